package retry

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// faults fails the next n calls of one kind on a Disk; set it before serving and arm
// it with fail.
type faults struct {
	op       string
	errno    syscall.Errno
	left     atomic.Int64
	attempts atomic.Int64
}

func (f *faults) fault(op string, off, length int64) error {
	if op != f.op {
		return nil
	}
	f.attempts.Add(1)
	if f.left.Add(-1) >= 0 {
		return server.Errorf(f.errno, "%s failure", op)
	}
	return nil
}

func diskFailing(op string, n int64) (*servertest.Disk, *faults) {
	d := servertest.NewDisk(1 << 20)
	f := &faults{op: op, errno: syscall.EIO}
	f.left.Store(n)
	d.Fault = f.fault
	return d, f
}

func open(t *testing.T, next server.Layer, opts Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := New(next, opts).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestReopensAndRetries(t *testing.T) {
	ctx := context.Background()
	d, f := diskFailing("read", 2)
	d.SetBytes([]byte("data"), 100)
	h := open(t, d.Layer(), Options{Delay: 20 * time.Millisecond})
	buf := make([]byte, 4)
	start := time.Now()
	if err := h.ReadAt(ctx, buf, 100, 0); err != nil {
		t.Fatalf("read failing twice: %v", err)
	}
	// Exponential back-off: 20 ms, then 40 ms.
	if elapsed := time.Since(start); elapsed < 60*time.Millisecond {
		t.Errorf("two retries took %v, want at least 60ms", elapsed)
	}
	c := d.Counts()
	if string(buf) != "data" || f.attempts.Load() != 3 || c.Opens.Load() != 3 || c.Closes.Load() != 2 {
		t.Errorf("read %q after %d attempts, %d opens, %d closes; want data, 3, 3, 2",
			buf, f.attempts.Load(), c.Opens.Load(), c.Closes.Load())
	}
	if err := h.Finalize(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil || c.Closes.Load() != 3 {
		t.Errorf("close: %v; the disk saw %d closes, want 3", err, c.Closes.Load())
	}
}

func TestConstantDelayAndGivingUp(t *testing.T) {
	ctx := context.Background()
	d, f := diskFailing("write", 100)
	h := open(t, d.Layer(), Options{Retries: 3, Delay: 15 * time.Millisecond, ConstantDelay: true})
	start := time.Now()
	err := h.WriteAt(ctx, []byte("x"), 0, 0)
	elapsed := time.Since(start)
	if !errors.Is(err, syscall.EIO) || f.attempts.Load() != 4 {
		t.Errorf("write: %v after %d attempts, want EIO after 4", err, f.attempts.Load())
	}
	if elapsed < 45*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("three constant delays of 15ms took %v", elapsed)
	}
	if d.Counts().Opens.Load() != 4 {
		t.Errorf("%d opens, want the first and three reopens", d.Counts().Opens.Load())
	}
}

func TestEveryOperationIsRetried(t *testing.T) {
	ctx := context.Background()
	for _, op := range []string{"read", "write", "flush", "trim", "zero", "extents", "cache"} {
		d, f := diskFailing(op, 1)
		h := open(t, d.Layer(), Options{Delay: time.Millisecond})
		var err error
		switch op {
		case "read":
			err = h.ReadAt(ctx, make([]byte, 10), 0, 0)
		case "write":
			err = h.WriteAt(ctx, make([]byte, 10), 0, server.FlagFUA)
		case "flush":
			err = h.Flush(ctx, 0)
		case "trim":
			err = h.Trim(ctx, 0, 4096, 0)
		case "zero":
			err = h.Zero(ctx, 0, 4096, server.FlagFUA)
		case "extents":
			e := server.NewExtentList(0, 1<<20)
			err = h.Extents(ctx, 0, 1<<20, 0, e)
			if got := e.Extents(); len(got) != 1 || got[0].Length != 1<<20 {
				t.Errorf("extents after a retry: %v", got)
			}
		case "cache":
			err = h.Cache(ctx, 0, 4096, 0)
		}
		if err != nil || f.attempts.Load() != 2 || d.Counts().Opens.Load() != 2 {
			t.Errorf("%s: %v after %d attempts and %d opens, want success after 2 and 2",
				op, err, f.attempts.Load(), d.Counts().Opens.Load())
		}
	}
}

func TestReadOnlyAfterFailure(t *testing.T) {
	ctx := context.Background()
	d, f := diskFailing("write", 1)
	d.SetBytes([]byte("old"), 0)
	h := open(t, d.Layer(), Options{Delay: time.Millisecond, ReadOnly: true})
	err := h.WriteAt(ctx, []byte("new"), 0, 0)
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("write after a failure with ReadOnly: %v, want EROFS", err)
	}
	if f.attempts.Load() != 1 {
		t.Errorf("%d write attempts, want 1: the reopened plugin is read-only", f.attempts.Load())
	}
	buf := make([]byte, 3)
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil || string(buf) != "old" {
		t.Errorf("read from the read-only plugin: %q, %v", buf, err)
	}
	if err := h.Zero(ctx, 0, 4096, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("zero: %v, want EROFS", err)
	}
	if d.Counts().Zeros.Load() != 0 || string(d.Bytes()[:3]) != "old" {
		t.Error("a write reached the disk after it was reopened read-only")
	}
}

// flakyOpen fails opens while fail is positive, counting down.
type flakyOpen struct {
	server.PassThrough
	fail atomic.Int64
}

func (f *flakyOpen) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if f.fail.Add(-1) >= 0 {
		return nil, errors.New("cannot connect")
	}
	return f.Next.Open(ctx, req)
}

func TestFailedReopen(t *testing.T) {
	ctx := context.Background()
	d, f := diskFailing("read", 1)
	flaky := &flakyOpen{PassThrough: server.PassThrough{Next: d.Layer()}}
	h := open(t, flaky, Options{Delay: time.Millisecond})
	flaky.fail.Store(2) // the first two reopens fail
	if err := h.ReadAt(ctx, make([]byte, 1), 0, 0); err != nil {
		t.Errorf("read: %v, want success on the third reopen", err)
	}
	if f.attempts.Load() != 2 {
		t.Errorf("%d read attempts, want 2", f.attempts.Load())
	}
	// When reopening keeps failing, the request fails with ESHUTDOWN.
	f.left.Store(1)
	flaky.fail.Store(100)
	err := h.ReadAt(ctx, make([]byte, 1), 0, 0)
	if !errors.Is(err, syscall.ESHUTDOWN) || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("read: %v, want ESHUTDOWN from reopening", err)
	}
	// The handle stays closed until a retry manages to reopen it.
	flaky.fail.Store(0)
	if err := h.ReadAt(ctx, make([]byte, 1), 0, 0); err != nil {
		t.Errorf("read once the plugin opens again: %v", err)
	}
}

func TestThreadModel(t *testing.T) {
	if got := New(servertest.NewDisk(1).Layer(), Options{}).ThreadModel(); got != server.SerializeRequests {
		t.Errorf("thread model %v, want SerializeRequests", got)
	}
}

func TestParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct{ param, want string }{
		{"retries=-1", "retries=-1"},
		{"retry-delay=0", "cannot be 0"},
		{"retry-delay=1s", "retry-delay=1s"},
		{"retry-exponential=sometimes", "retry-exponential=sometimes"},
		{"retry-readonly=2", "retry-readonly=2"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "retry: ") {
			t.Errorf("%s: %v, want an error about %q", tc.param, err, tc.want)
		}
	}
	if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "retries=0", "retry-delay=3", "retry-exponential=no", "retry-readonly=yes"); err != nil {
		t.Errorf("good parameters: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	d, f := diskFailing("read", 0)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "retry-delay=1", "retry-readonly=yes")
	servertest.QemuIO(t, s.URI(), "write -P 0x33 0 64k")
	f.left.Store(1)
	start := time.Now()
	servertest.QemuIO(t, s.URI(), "read -P 0x33 0 64k")
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("a read retried after 1 s took %v", elapsed)
	}
	if f.attempts.Load() < 2 {
		t.Errorf("%d read attempts, want a retry", f.attempts.Load())
	}
	// After the failure this connection's plugin handle is read-only: writes fail
	// with EPERM (EROFS on the wire), reads work.
	f.left.Store(1)
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"assert h.pread(4, 0) == b'\\x33' * 4",
		"try:\n    h.pwrite(b'x', 0)\n    assert False, 'no error'\nexcept nbd.Error as e:\n    assert e.errnum == errno.EPERM, e",
		"assert h.pread(4, 0) == b'\\x33' * 4",
	)
	// A new connection opens the plugin read-write again.
	servertest.Nbdsh(t, s.URI(), "h.pwrite(b'x', 0)", "assert h.pread(2, 0) == b'x\\x33'")
}
