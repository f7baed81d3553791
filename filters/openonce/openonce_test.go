package openonce_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/openonce"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// lifeCycle counts the life-cycle calls that reach the layer behind the filter, and
// can refuse opens.
type lifeCycle struct {
	server.PassThrough
	refuse                             atomic.Bool
	opens, prepares, finalizes, closes atomic.Int64
	cleanups                           atomic.Int64
	model                              server.ThreadModel
}

func newLifeCycle(d *servertest.Disk) *lifeCycle {
	return &lifeCycle{PassThrough: server.PassThrough{Next: d.Layer()}, model: server.Parallel}
}

func (l *lifeCycle) ThreadModel() server.ThreadModel { return l.model }

func (l *lifeCycle) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if l.refuse.Load() {
		return nil, errors.New("not yet")
	}
	l.opens.Add(1)
	h, err := l.Next.Open(ctx, req)
	return &lifeCycleHandle{server.PassThroughHandle{Next: h}, l}, err
}

func (l *lifeCycle) Cleanup(ctx context.Context) {
	l.cleanups.Add(1)
	l.Next.Cleanup(ctx)
}

type lifeCycleHandle struct {
	server.PassThroughHandle
	l *lifeCycle
}

func (h *lifeCycleHandle) Prepare(ctx context.Context, readOnly bool) error {
	h.l.prepares.Add(1)
	return h.Next.Prepare(ctx, readOnly)
}

func (h *lifeCycleHandle) Finalize(ctx context.Context) error {
	h.l.finalizes.Add(1)
	return h.Next.Finalize(ctx)
}

func (h *lifeCycleHandle) Close(ctx context.Context) error {
	h.l.closes.Add(1)
	return h.Next.Close(ctx)
}

// connect opens and prepares a handle as the server does for a connection.
func connect(layer server.Layer, name string, readOnly bool) (server.LayerHandle, error) {
	ctx := context.Background()
	h, err := layer.Open(ctx, server.OpenRequest{ExportName: name, ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	return h, h.Prepare(ctx, readOnly)
}

// disconnect finalizes and closes a handle as the server does.
func disconnect(t *testing.T, h server.LayerHandle) {
	t.Helper()
	ctx := context.Background()
	if err := errors.Join(h.Finalize(ctx), h.Close(ctx)); err != nil {
		t.Fatal(err)
	}
}

func TestOpensOnce(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	behind := newLifeCycle(d)
	layer := openonce.New(behind, nil)
	if layer.Name() != "openonce" {
		t.Errorf("Name() = %q", layer.Name())
	}
	behind.refuse.Store(true)
	if _, err := connect(layer, "", false); err == nil {
		t.Fatal("an open the plugin refused succeeded")
	}
	behind.refuse.Store(false)
	first, err := connect(layer, "", false)
	if err != nil {
		t.Fatal(err)
	}
	second, err := connect(layer, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.WriteAt(ctx, []byte("shared"), 0, 0); err != nil {
		t.Fatal(err)
	}
	disconnect(t, first)
	p := make([]byte, 6)
	if err := second.ReadAt(ctx, p, 0, 0); err != nil || string(p) != "shared" {
		t.Fatalf("the second connection read %q, %v after the first closed", p, err)
	}
	disconnect(t, second)
	third, err := connect(layer, "", true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := third.Capabilities(ctx)
	if err != nil || c.Write || c.Zero || c.Trim || c.FUA != server.FUANone || !c.Flush {
		t.Errorf("a read-only connection's capabilities: %+v, %v", c, err)
	}
	if _, err := connect(layer, "other", false); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("opening another export: %v, want EINVAL naming it", err)
	}
	disconnect(t, third)
	if o, p, f, c := behind.opens.Load(), behind.prepares.Load(), behind.finalizes.Load(), behind.closes.Load(); o != 1 || p != 1 || f != 0 || c != 0 {
		t.Errorf("before cleanup: %d opens, %d prepares, %d finalizes, %d closes; want 1, 1, 0, 0", o, p, f, c)
	}
	layer.Cleanup(ctx)
	if f, c, u := behind.finalizes.Load(), behind.closes.Load(), behind.cleanups.Load(); f != 1 || c != 1 || u != 1 {
		t.Errorf("after cleanup: %d finalizes, %d closes, %d cleanups; want 1 each", f, c, u)
	}
	if d.Counts().Opens.Load() != 1 || d.Counts().Closes.Load() != 1 {
		t.Errorf("the disk was opened %d times and closed %d times", d.Counts().Opens.Load(), d.Counts().Closes.Load())
	}
}

func TestFailedPrepareClosesAndRetries(t *testing.T) {
	d := servertest.NewDisk(4096)
	behind := newLifeCycle(d)
	fail := true
	layer := openonce.New(&prepareFailer{PassThrough: server.PassThrough{Next: behind}, fail: &fail}, nil)
	if _, err := connect(layer, "", false); err == nil || !strings.Contains(err.Error(), "prepare failed") {
		t.Fatalf("open with a failing prepare: %v", err)
	}
	if behind.closes.Load() != 1 {
		t.Errorf("the handle whose prepare failed was closed %d times, want 1", behind.closes.Load())
	}
	fail = false
	h, err := connect(layer, "", false)
	if err != nil {
		t.Fatal(err)
	}
	disconnect(t, h)
	if behind.opens.Load() != 2 {
		t.Errorf("%d opens, want 2", behind.opens.Load())
	}
}

// prepareFailer fails the Prepare of its handles while *fail is set.
type prepareFailer struct {
	server.PassThrough
	fail *bool
}

func (p *prepareFailer) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := p.Next.Open(ctx, req)
	return &prepareFailerHandle{server.PassThroughHandle{Next: h}, p.fail}, err
}

type prepareFailerHandle struct {
	server.PassThroughHandle
	fail *bool
}

func (h *prepareFailerHandle) Prepare(ctx context.Context, readOnly bool) error {
	if *h.fail {
		return errors.New("prepare failed")
	}
	return h.Next.Prepare(ctx, readOnly)
}

func TestThreadModel(t *testing.T) {
	for in, want := range map[server.ThreadModel]server.ThreadModel{
		server.Parallel:             server.Parallel,
		server.SerializeRequests:    server.SerializeAllRequests,
		server.SerializeAllRequests: server.SerializeAllRequests,
		server.SerializeConnections: server.SerializeConnections,
	} {
		behind := newLifeCycle(servertest.NewDisk(4096))
		behind.model = in
		if got := openonce.New(behind, nil).ThreadModel(); got != want {
			t.Errorf("behind %v: thread model %v, want %v", in, got, want)
		}
	}
}

func TestNoParameters(t *testing.T) {
	_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{openonce.Spec()}, "openonce=1")
	if err == nil || !strings.Contains(err.Error(), "unknown parameter openonce") {
		t.Errorf("openonce=1: error %v, want an unknown parameter", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{openonce.Spec()})
	held := s.Dial(t)
	servertest.QemuIO(t, s.URI(), "write -P 0x5c 0 64k")
	servertest.Nbdsh(t, s.URI(),
		"assert h.pread(65536, 0) == b'\\x5c' * 65536",
		"h.pwrite(b'nbdsh', 65536)",
	)
	servertest.QemuIO(t, s.URI(), "read -P 0x5c 0 64k")
	p := make([]byte, 5)
	if err := held.ReadAt(context.Background(), p, 65536, 0); err != nil || string(p) != "nbdsh" {
		t.Fatalf("the first connection read %q, %v", p, err)
	}
	held.Close()
	if n := d.Counts().Opens.Load(); n != 1 {
		t.Errorf("the plugin was opened %d times by four connections, want once", n)
	}
	if n := d.Counts().Closes.Load(); n != 0 {
		t.Errorf("the plugin was closed %d times before the server stopped", n)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := d.Counts().Closes.Load(); n != 1 {
		t.Errorf("the plugin was closed %d times when the server stopped, want once", n)
	}
}
