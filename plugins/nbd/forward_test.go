package nbd

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openProxy makes the plugin from opts, adapts it as the server does and opens a
// prepared handle, closed when the test ends.
func openProxy(t *testing.T, opts Options) server.LayerHandle {
	t.Helper()
	ctx := testContext(t)
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	layer := server.PluginLayer("nbd", p)
	if err := layer.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { layer.Cleanup(context.Background()) })
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Finalize(context.Background())
		h.Close(context.Background())
	})
	return h
}

// flagRecorder is a plugin that remembers the flags each kind of request reached it
// with, so that a test can check what the proxy passed on.
type flagRecorder struct {
	size int64

	mu    sync.Mutex
	flags map[string][]server.Flags
}

func newFlagRecorder(size int64) *flagRecorder {
	return &flagRecorder{size: size, flags: map[string][]server.Flags{}}
}

func (r *flagRecorder) record(op string, flags server.Flags) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flags[op] = append(r.flags[op], flags)
}

// take returns the flags op was called with since the last take.
func (r *flagRecorder) take(op string) []server.Flags {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.flags[op]
	delete(r.flags, op)
	return f
}

func (r *flagRecorder) Open(context.Context, server.OpenRequest) (server.Handle, error) {
	return r, nil
}
func (r *flagRecorder) Size(context.Context) (int64, error)                   { return r.size, nil }
func (r *flagRecorder) ReadAt(ctx context.Context, p []byte, off int64) error { clear(p); return nil }
func (r *flagRecorder) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	r.record("write", flags)
	return nil
}
func (r *flagRecorder) Flush(ctx context.Context, flags server.Flags) error {
	r.record("flush", flags)
	return nil
}
func (r *flagRecorder) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	r.record("trim", flags)
	return nil
}
func (r *flagRecorder) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	r.record("zero", flags)
	return nil
}
func (r *flagRecorder) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	r.record("cache", flags)
	return nil
}
func (r *flagRecorder) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	r.record("extents", flags)
	if err := e.Add(off, 4096, server.ExtentData); err != nil {
		return err
	}
	return e.Add(off+4096, length, server.ExtentHole|server.ExtentZero)
}
func (r *flagRecorder) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.FUA = server.FUANative
	c.FastZero = true
	c.Rotational = true
	return nil
}

func TestFlagsPassThrough(t *testing.T) {
	rec := newFlagRecorder(1 * miB)
	remote := servertest.Start(t, server.PluginLayer("recorder", rec), server.Options{})
	h := openProxy(t, Options{Socket: remote.Socket})
	ctx := testContext(t)

	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
		Extents: true, FUA: server.FUANative, Cache: server.CacheNative, Rotational: true}
	if caps != want {
		t.Errorf("capabilities %+v, want the server's %+v", caps, want)
	}

	for _, tc := range []struct {
		op    string
		flags server.Flags
		call  func(server.Flags) error
	}{
		{"write", 0, func(f server.Flags) error { return h.WriteAt(ctx, make([]byte, 512), 0, f) }},
		{"write", server.FlagFUA, func(f server.Flags) error { return h.WriteAt(ctx, make([]byte, 512), 0, f) }},
		{"trim", 0, func(f server.Flags) error { return h.Trim(ctx, 0, 4096, f) }},
		{"trim", server.FlagFUA, func(f server.Flags) error { return h.Trim(ctx, 0, 4096, f) }},
		{"zero", 0, func(f server.Flags) error { return h.Zero(ctx, 0, 4096, f) }},
		{"zero", server.FlagMayTrim, func(f server.Flags) error { return h.Zero(ctx, 0, 4096, f) }},
		{"zero", server.FlagFUA | server.FlagFastZero, func(f server.Flags) error { return h.Zero(ctx, 0, 4096, f) }},
		{"zero", server.FlagFUA | server.FlagMayTrim | server.FlagFastZero, func(f server.Flags) error { return h.Zero(ctx, 0, 4096, f) }},
		{"flush", 0, func(f server.Flags) error { return h.Flush(ctx, f) }},
		{"cache", 0, func(f server.Flags) error { return h.Cache(ctx, 0, 4096, f) }},
		{"extents", 0, func(f server.Flags) error {
			return h.Extents(ctx, 0, 64*kiB, f, server.NewExtentList(0, 64*kiB))
		}},
		{"extents", server.FlagReqOne, func(f server.Flags) error {
			return h.Extents(ctx, 0, 64*kiB, f, server.NewExtentList(0, 64*kiB))
		}},
	} {
		if err := tc.call(tc.flags); err != nil {
			t.Errorf("%s with flags %#x: %v", tc.op, tc.flags, err)
			continue
		}
		if got := rec.take(tc.op); len(got) != 1 || got[0] != tc.flags {
			t.Errorf("%s with flags %#x reached the server as %#x", tc.op, tc.flags, got)
		}
	}
}

func TestExtentsPassThrough(t *testing.T) {
	rec := newFlagRecorder(1 * miB)
	remote := servertest.Start(t, server.PluginLayer("recorder", rec), server.Options{})
	h := openProxy(t, Options{URI: remote.URI()})
	ctx := testContext(t)

	e := server.NewExtentList(8*kiB, 1*miB)
	if err := h.Extents(ctx, 8*kiB, 1*miB-8*kiB, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 8 * kiB, Length: 4 * kiB, Type: server.ExtentData},
		{Offset: 12 * kiB, Length: 1*miB - 12*kiB, Type: server.ExtentHole | server.ExtentZero},
	}
	if got := e.Extents(); !equalExtents(got, want) {
		t.Errorf("extents %+v, want %+v", got, want)
	}
}

func equalExtents(a, b []server.Extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRequestsReachTheDisk(t *testing.T) {
	disk := servertest.NewDisk(4 * miB)
	remote := servertest.Start(t, disk.Layer(), server.Options{})
	h := openProxy(t, Options{Socket: remote.Socket})
	ctx := testContext(t)
	c := disk.Counts()

	data := bytes.Repeat([]byte("gonbd"), 20000)
	if err := h.WriteAt(ctx, data, 12345, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if got := disk.Bytes()[12345 : 12345+len(data)]; !bytes.Equal(got, data) {
		t.Error("the disk does not hold what was written through the proxy")
	}
	got := make([]byte, len(data))
	if err := h.ReadAt(ctx, got, 12345, 0); err != nil || !bytes.Equal(got, data) {
		t.Errorf("reading back through the proxy: %v (equal: %v)", err, bytes.Equal(got, data))
	}
	if err := h.Zero(ctx, 64*kiB, 1*miB, server.FlagMayTrim); err != nil {
		t.Fatal(err)
	}
	if err := h.Trim(ctx, 2*miB, 1*miB, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Cache(ctx, 0, 1*miB, 0); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int64{
		"writes": c.Writes.Load(), "FUA": c.FUA.Load(), "zeroes": c.Zeros.Load(), "trims": c.Trims.Load(),
		"flushes": c.Flushes.Load(), "caches": c.Caches.Load(), "opens": c.Opens.Load(),
	} {
		if n != 1 {
			t.Errorf("%s reaching the disk: %d, want 1", name, n)
		}
	}
	if disk.Allocated(64*kiB) || disk.Allocated(2*miB) || !disk.Allocated(12345) {
		t.Error("zero and trim did not free the disk's blocks, or the write did not allocate")
	}
}

func TestServerErrorsKeepTheirErrno(t *testing.T) {
	disk := servertest.NewDisk(1 * miB)
	var mu sync.Mutex
	var injected error
	disk.Fault = func(op string, off, length int64) error {
		mu.Lock()
		defer mu.Unlock()
		return injected
	}
	remote := servertest.Start(t, disk.Layer(), server.Options{})
	proxy := proxyTo(t, "socket="+remote.Socket)
	c := proxy.Dial(t)
	ctx := testContext(t)

	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EIO, syscall.ENOMEM, syscall.EINVAL,
		syscall.ENOSPC, syscall.EOVERFLOW, syscall.ENOTSUP} {
		mu.Lock()
		injected = server.Errorf(errno, "injected")
		mu.Unlock()
		if err := c.WriteAt(ctx, make([]byte, 4096), 0, 0); !errors.Is(err, errno) {
			t.Errorf("a write the disk fails with %v: the client got %v", errno, err)
		}
		if err := c.ReadAt(ctx, make([]byte, 4096), 0, 0); !errors.Is(err, errno) {
			t.Errorf("a read the disk fails with %v: the client got %v", errno, err)
		}
	}
	mu.Lock()
	injected = nil
	mu.Unlock()
	if err := c.ReadAt(ctx, make([]byte, 4096), 0, 0); err != nil {
		t.Errorf("the connection does not work after the errors: %v", err)
	}
}
