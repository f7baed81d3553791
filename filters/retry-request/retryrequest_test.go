package retryrequest

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

// failFirst returns a Disk fault that fails the first n calls of op with errno.
func failFirst(n int64, op string, errno syscall.Errno) (func(string, int64, int64) error, *atomic.Int64) {
	var calls atomic.Int64
	return func(o string, off, length int64) error {
		if o == op && calls.Add(1) <= n {
			return server.Errorf(errno, "%s failure number %d", op, calls.Load())
		}
		return nil
	}, &calls
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

func TestRetriesUntilSuccess(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	d.SetBytes([]byte("hello"), 0)
	fault, calls := failFirst(2, "read", syscall.EIO)
	d.Fault = fault
	h := open(t, d.Layer(), Options{Delay: 20 * time.Millisecond})
	buf := make([]byte, 5)
	start := time.Now()
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
		t.Fatalf("read failing twice with two retries: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
		t.Errorf("two retries took %v, want at least two delays", elapsed)
	}
	if string(buf) != "hello" || calls.Load() != 3 {
		t.Errorf("read %q in %d calls, want hello in 3", buf, calls.Load())
	}
}

func TestGivesUp(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	fault, calls := failFirst(100, "write", syscall.ENOSPC)
	d.Fault = fault
	h := open(t, d.Layer(), Options{Retries: 3, Delay: time.Millisecond})
	err := h.WriteAt(ctx, []byte("x"), 0, 0)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "failure number 4") {
		t.Errorf("write: %v, want the fourth attempt's ENOSPC", err)
	}
	if calls.Load() != 4 {
		t.Errorf("%d attempts, want 1 + 3 retries", calls.Load())
	}
	// No retries at all.
	calls.Store(0)
	h = open(t, d.Layer(), Options{Retries: -1, Delay: time.Millisecond})
	if err := h.WriteAt(ctx, []byte("x"), 0, 0); err == nil || calls.Load() != 1 {
		t.Errorf("without retries: %v after %d attempts", err, calls.Load())
	}
}

func TestEveryOperationIsRetried(t *testing.T) {
	ctx := context.Background()
	for _, op := range []string{"read", "write", "flush", "trim", "zero", "extents", "cache"} {
		d := servertest.NewDisk(1 << 20)
		fault, calls := failFirst(1, op, syscall.EIO)
		d.Fault = fault
		h := open(t, d.Layer(), Options{Delay: time.Millisecond})
		var err error
		switch op {
		case "read":
			err = h.ReadAt(ctx, make([]byte, 10), 0, 0)
		case "write":
			err = h.WriteAt(ctx, make([]byte, 10), 0, 0)
		case "flush":
			err = h.Flush(ctx, 0)
		case "trim":
			err = h.Trim(ctx, 0, 4096, 0)
		case "zero":
			err = h.Zero(ctx, 0, 4096, 0)
		case "extents":
			e := server.NewExtentList(0, 1<<20)
			err = h.Extents(ctx, 0, 1<<20, 0, e)
			if got := e.Extents(); len(got) != 1 || got[0] != (server.Extent{Offset: 0, Length: 1 << 20, Type: server.ExtentHole | server.ExtentZero}) {
				t.Errorf("extents after a retry: %v", got)
			}
		case "cache":
			err = h.Cache(ctx, 0, 4096, 0)
		}
		if err != nil || calls.Load() != 2 {
			t.Errorf("%s: %v after %d attempts, want success at the second", op, err, calls.Load())
		}
	}
}

// flakyOpen fails the first n opens.
type flakyOpen struct {
	server.PassThrough
	n, opens atomic.Int64
}

func (f *flakyOpen) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if f.opens.Add(1) <= f.n.Load() {
		return nil, server.Errorf(syscall.EIO, "open failure")
	}
	return f.Next.Open(ctx, req)
}

func TestRetriesOpen(t *testing.T) {
	ctx := context.Background()
	flaky := &flakyOpen{PassThrough: server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}
	flaky.n.Store(2)
	if _, err := New(flaky, Options{Delay: time.Millisecond}).Open(ctx, server.OpenRequest{}); err != nil || flaky.opens.Load() != 3 {
		t.Errorf("open: %v after %d attempts, want success at the third", err, flaky.opens.Load())
	}
	flaky.opens.Store(0)
	if _, err := New(flaky, Options{Delay: time.Millisecond, NoRetryOpen: true}).Open(ctx, server.OpenRequest{}); err == nil || flaky.opens.Load() != 1 {
		t.Errorf("open without retries: %v after %d attempts", err, flaky.opens.Load())
	}
}

func TestCanceledWait(t *testing.T) {
	d := servertest.NewDisk(4096)
	fault, calls := failFirst(100, "read", syscall.EIO)
	d.Fault = fault
	h := open(t, d.Layer(), Options{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.ReadAt(ctx, make([]byte, 1), 0, 0); !errors.Is(err, syscall.EIO) || calls.Load() != 1 {
		t.Errorf("read whose context ended while waiting: %v after %d attempts, want the first EIO", err, calls.Load())
	}
}

func TestParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct{ param, want string }{
		{"retry-request-retries=1001", "value too large"},
		{"retry-request-retries=many", "retry-request-retries=many"},
		{"retry-request-delay=0", "cannot be 0"},
		{"retry-request-delay=0.5", "retry-request-delay=0.5"},
		{"retry-request-open=perhaps", "retry-request-open=perhaps"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "retry-request: ") {
			t.Errorf("%s: %v, want an error about %q", tc.param, err, tc.want)
		}
	}
	if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "retry-request-retries=0", "retry-request-delay=5", "retry-request-open=false"); err != nil {
		t.Errorf("good parameters: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	d := servertest.NewDisk(1 << 20)
	// The fault is set before serving and never changed: the test arms it through
	// failures, the writes still to fail.
	var failures, attempts atomic.Int64
	d.Fault = func(op string, off, length int64) error {
		if op != "write" {
			return nil
		}
		attempts.Add(1)
		if failures.Add(-1) >= 0 {
			return server.Errorf(syscall.ENOSPC, "write failure")
		}
		return nil
	}
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "retry-request-delay=1")
	failures.Store(1)
	start := time.Now()
	servertest.QemuIO(t, s.URI(), "write -P 0x77 0 64k", "read -P 0x77 0 64k")
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("a write retried after 1 s took %v", elapsed)
	}
	if attempts.Load() != 2 {
		t.Errorf("%d write attempts, want 2", attempts.Load())
	}
	// A write that keeps failing fails for the client, after two retries.
	failures.Store(3)
	attempts.Store(0)
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"try:\n    h.pwrite(b'x', 0)\n    assert False, 'no error'\nexcept nbd.Error as e:\n    assert e.errnum == errno.ENOSPC, e",
		"h.pwrite(b'y', 0)",
		"assert h.pread(2, 0) == b'yw'",
	)
	if attempts.Load() != 4 {
		t.Errorf("%d write attempts, want 3 failed and 1 good", attempts.Load())
	}
}
