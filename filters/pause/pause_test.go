package pause

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// shortDir returns a directory whose paths fit in a Unix socket address.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pause")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// done runs f in a goroutine and returns the channel its result arrives on.
func done(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// pending fails the test if a result arrives on ch within d.
func pending(t *testing.T, what string, ch <-chan error, d time.Duration) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s finished (%v) while it should wait", what, err)
	case <-time.After(d):
	}
}

// finished waits for the result on ch.
func finished(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not finish", what)
		return nil
	}
}

func TestPauseWaitsForRunningRequests(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	inRead, releaseRead := make(chan struct{}), make(chan struct{})
	d.Fault = func(op string, off, length int64) error {
		if op == "read" && off == 4096 {
			close(inRead)
			<-releaseRead
		}
		return nil
	}
	f := New(d.Layer(), Options{})
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	slowRead := done(func() error { return h.ReadAt(ctx, make([]byte, 10), 4096, 0) })
	<-inRead
	paused := done(func() error { return f.Pause(ctx) })
	pending(t, "pause with a request running", paused, 100*time.Millisecond)
	close(releaseRead)
	if err := finished(t, "the running read", slowRead); err != nil {
		t.Fatal(err)
	}
	if err := finished(t, "pause", paused); err != nil {
		t.Fatal(err)
	}
	// Paused: new requests wait.
	write := done(func() error { return h.WriteAt(ctx, []byte("after"), 0, 0) })
	pending(t, "a write while paused", write, 100*time.Millisecond)
	if d.Counts().Writes.Load() != 0 {
		t.Fatal("a write reached the disk while paused")
	}
	if err := f.Pause(ctx); err != nil {
		t.Errorf("pausing again: %v", err)
	}
	f.Resume()
	if err := finished(t, "the write after resuming", write); err != nil {
		t.Fatal(err)
	}
	if string(d.Bytes()[:5]) != "after" {
		t.Error("the resumed write did not reach the disk")
	}
	f.Resume() // resuming a running filter does nothing
	if err := h.Flush(ctx, 0); err != nil {
		t.Error(err)
	}
}

func TestPausedRequestEndsWithItsContext(t *testing.T) {
	f := New(servertest.NewDisk(4096).Layer(), Options{})
	ctx := context.Background()
	h, _ := f.Open(ctx, server.OpenRequest{})
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := h.ReadAt(rctx, make([]byte, 1), 0, 0); !errors.Is(err, syscall.ESHUTDOWN) {
		t.Errorf("paused read whose context ended: %v, want ESHUTDOWN", err)
	}
}

// command sends one control command and returns the reply.
func command(t *testing.T, c net.Conn, cmd string, replyLen int) string {
	t.Helper()
	if _, err := c.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, replyLen)
	n := 0
	for n < replyLen {
		m, err := c.Read(buf[n:])
		if err != nil {
			t.Fatalf("reply to %q: %v (got %q)", cmd, err, buf[:n])
		}
		n += m
	}
	return string(buf)
}

func TestControlSocket(t *testing.T) {
	ctx := context.Background()
	sock := filepath.Join(shortDir(t), "ctl")
	d := servertest.NewDisk(4096)
	f := New(d.Layer(), Options{Control: sock})
	if err := f.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := command(t, c, "p\n", 1); got != "P" {
		t.Errorf("pause: %q, want P", got)
	}
	h, _ := f.Open(ctx, server.OpenRequest{})
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	read := done(func() error { return h.ReadAt(ctx, make([]byte, 1), 0, 0) })
	pending(t, "a read while paused", read, 100*time.Millisecond)
	// A second controller may resume.
	c2, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got := command(t, c2, "?r", 2); got != "XR" {
		t.Errorf("unknown command and resume: %q, want XR", got)
	}
	if err := finished(t, "the read after resuming", read); err != nil {
		t.Fatal(err)
	}
	f.Cleanup(ctx)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control socket is still there after Cleanup: %v", err)
	}
	if d.Counts().Reads.Load() != 1 {
		t.Error("the read did not reach the disk")
	}
}

func TestParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	long := "/tmp/" + strings.Repeat("x", 110)
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, "pause-control socket was not set"},
		{[]string{"pause-control=" + long}, "too long"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "pause: ") {
			t.Errorf("%q: %v, want an error about %q", tc.params, err, tc.want)
		}
	}
	// A socket that cannot be made fails when the server gets ready.
	layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "pause-control=/nonexistent/dir/sock")
	if err != nil {
		t.Fatal(err)
	}
	if err := layer.GetReady(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/dir/sock") {
		t.Errorf("GetReady with a socket in a missing directory: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	sock := filepath.Join(shortDir(t), "ctl")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "pause-control="+sock)
	servertest.QemuIO(t, s.URI(), "write -P 0x11 0 64k")
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := command(t, c, "p", 1); got != "P" {
		t.Fatalf("pause: %q", got)
	}
	copyDone := done(func() error {
		// Not QemuIO, which may fail the test: this is not the test's goroutine.
		r := servertest.RunQemuIO(t, s.URI(), "read -P 0x11 0 64k", "write -P 0x22 64k 64k")
		if r.Code != 0 || servertest.QemuIOFailed(r) || !strings.Contains(r.Stdout, "read 65536/65536") {
			return errors.New(r.String())
		}
		return nil
	})
	pending(t, "qemu-io while paused", copyDone, 500*time.Millisecond)
	if got := command(t, c, "r", 1); got != "R" {
		t.Fatalf("resume: %q", got)
	}
	if err := finished(t, "qemu-io after resuming", copyDone); err != nil {
		t.Fatal(err)
	}
	servertest.Nbdsh(t, s.URI(), "assert h.pread(1, 65536) == b'\\x22'")
}
