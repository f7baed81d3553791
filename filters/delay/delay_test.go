package delay

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseDelay(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"2", 2 * time.Second},
		{"0x10", 16 * time.Second},
		{"100ms", 100 * time.Millisecond},
		{"0ms", 0},
	} {
		if got, err := ParseDelay(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseDelay(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0.5", "1.5s", "-1", "abc", "1ms5", "ms", "5000000000", "10s"} {
		if d, err := ParseDelay(bad); err == nil {
			t.Errorf("ParseDelay(%q) = %v, want an error", bad, d)
		}
	}
}

func TestParamsInOrder(t *testing.T) {
	for _, tc := range []struct {
		params []string
		want   Options
	}{
		{[]string{"wdelay=1", "delay-zero=0"}, Options{Write: time.Second, Trim: time.Second}},
		{[]string{"delay-zero=0", "wdelay=1"}, Options{Write: time.Second, Trim: time.Second, Zero: time.Second}},
		{[]string{"rdelay=5ms", "delay-reads=7ms"}, Options{Read: 7 * time.Millisecond}},
		{[]string{"delay-discard=1", "delay-extent=2", "delay-cache=3", "delay-flush=4"},
			Options{Trim: time.Second, Extents: 2 * time.Second, Cache: 3 * time.Second, Flush: 4 * time.Second}},
		{[]string{"zdelay=1", "tdelay=2", "edelay=3", "cdelay=4", "fdelay=5"},
			Options{Zero: time.Second, Trim: 2 * time.Second, Extents: 3 * time.Second, Cache: 4 * time.Second, Flush: 5 * time.Second}},
		{[]string{"delay-open=1ms", "delay-close=2ms", "delay-fast-zero=false"},
			Options{Open: time.Millisecond, Close: 2 * time.Millisecond, FailFastZero: true}},
	} {
		list := make([]server.Param, 0, len(tc.params)+1)
		for _, kv := range tc.params {
			k, v, _ := strings.Cut(kv, "=")
			list = append(list, server.Param{Key: k, Value: v})
		}
		list = append(list, server.Param{Key: "size", Value: "1M"})
		p := server.NewParams(list, nil)
		got, err := parseParams(p)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.params, got, err, tc.want)
		}
		if unused := p.Unused(); len(unused) != 1 || unused[0].Key != "size" {
			t.Errorf("%q: left %v for the plugin, want only size", tc.params, unused)
		}
	}
}

func TestBadParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct{ param, want string }{
		{"rdelay=0.5", "rdelay=0.5"},
		{"delay-write=fast", "delay-write=fast"},
		{"wdelay=-1", "negative"},
		{"delay-fast-zero=maybe", "delay-fast-zero=maybe"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "delay: ") {
			t.Errorf("%s: %v, want an error about %q", tc.param, err, tc.want)
		}
	}
}

// open opens a handle of the filter with opts in front of d.
func open(t *testing.T, d *servertest.Disk, opts Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := New(d.Layer(), opts).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h
}

// took returns how long f took, failing the test if f fails.
func took(t *testing.T, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return time.Since(start)
}

func TestEachOperationIsDelayed(t *testing.T) {
	ctx := context.Background()
	const d = 30 * time.Millisecond
	disk := servertest.NewDisk(1 << 20)
	h := open(t, disk, Options{Read: d, Write: 2 * d, Zero: 3 * d, Trim: 4 * d, Extents: 5 * d, Cache: 6 * d, Flush: 7 * d})
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		what string
		min  time.Duration
		f    func() error
	}{
		{"read", d, func() error { return h.ReadAt(ctx, buf, 0, 0) }},
		{"write", 2 * d, func() error { return h.WriteAt(ctx, buf, 0, 0) }},
		{"zero", 3 * d, func() error { return h.Zero(ctx, 0, 4096, 0) }},
		{"trim", 4 * d, func() error { return h.Trim(ctx, 0, 4096, 0) }},
		{"extents", 5 * d, func() error { return h.Extents(ctx, 0, 4096, 0, server.NewExtentList(0, 4096)) }},
		{"cache", 6 * d, func() error { return h.Cache(ctx, 0, 4096, 0) }},
		{"flush", 7 * d, func() error { return h.Flush(ctx, 0) }},
	} {
		if got := took(t, tc.what, tc.f); got < tc.min {
			t.Errorf("%s took %v, want at least %v", tc.what, got, tc.min)
		}
	}
	c := disk.Counts()
	if c.Reads.Load() != 1 || c.Writes.Load() != 1 || c.Zeros.Load() != 1 || c.Trims.Load() != 1 ||
		c.Extents.Load() != 1 || c.Caches.Load() != 1 || c.Flushes.Load() != 1 {
		t.Error("a delayed request did not reach the disk exactly once")
	}
}

func TestOpenAndCloseDelays(t *testing.T) {
	ctx := context.Background()
	disk := servertest.NewDisk(4096)
	layer := New(disk.Layer(), Options{Open: 50 * time.Millisecond, Close: 60 * time.Millisecond})
	var h server.LayerHandle
	if got := took(t, "open", func() (err error) { h, err = layer.Open(ctx, server.OpenRequest{}); return err }); got < 50*time.Millisecond {
		t.Errorf("open took %v", got)
	}
	if got := took(t, "close", func() error { return h.Close(ctx) }); got < 60*time.Millisecond {
		t.Errorf("close took %v", got)
	}
	if disk.Counts().Closes.Load() != 1 {
		t.Error("the disk's handle was not closed")
	}
}

func TestFastZero(t *testing.T) {
	ctx := context.Background()
	disk := servertest.NewDisk(1 << 20)
	h := open(t, disk, Options{Zero: time.Hour, FailFastZero: true})
	caps, err := h.Capabilities(ctx)
	if err != nil || !caps.FastZero {
		t.Errorf("capabilities %+v, %v: want fast zero advertised", caps, err)
	}
	err = h.Zero(ctx, 0, 4096, server.FlagFastZero)
	if !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("fast zero: %v, want ENOTSUP at once", err)
	}
	if disk.Counts().Zeros.Load() != 0 {
		t.Error("the refused fast zero reached the disk")
	}
	// By default fast zero support is the plugin's (the disk has none to offer).
	h = open(t, disk, Options{Zero: 40 * time.Millisecond})
	if caps, err := h.Capabilities(ctx); err != nil || caps.FastZero {
		t.Errorf("capabilities %+v, %v: want the disk's, without fast zero", caps, err)
	}
}

func TestCanceledDelay(t *testing.T) {
	disk := servertest.NewDisk(4096)
	h := open(t, disk, Options{Read: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := h.ReadAt(ctx, make([]byte, 10), 0, 0)
	if !errors.Is(err, syscall.ESHUTDOWN) {
		t.Errorf("read whose context ended: %v, want ESHUTDOWN", err)
	}
	if disk.Counts().Reads.Load() != 0 {
		t.Error("the interrupted read reached the disk")
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	disk := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, disk.Spec(), []server.FilterSpec{Spec()}, "rdelay=300ms", "wdelay=200ms")
	start := time.Now()
	servertest.QemuIO(t, s.URI(), "write -P 0x5a 0 4k", "read -P 0x5a 0 4k")
	if got := time.Since(start); got < 500*time.Millisecond {
		t.Errorf("a delayed write and read took %v, want at least 500ms", got)
	}
	start = time.Now()
	servertest.Nbdsh(t, s.URI(),
		"h.zero(4096, 0)",
		"assert h.pread(4096, 0) == bytes(4096)",
	)
	if got := time.Since(start); got < 500*time.Millisecond {
		t.Errorf("a delayed zero and read took %v, want at least 500ms", got)
	}
}

func TestEndToEndFastZero(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	disk := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, disk.Spec(), []server.FilterSpec{Spec()}, "delay-zero=10", "delay-fast-zero=false")
	start := time.Now()
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"assert h.can_fast_zero()",
		"try:\n    h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)\n    assert False, 'fast zero succeeded'\nexcept nbd.Error as e:\n    assert e.errnum == errno.ENOTSUP, e",
	)
	if got := time.Since(start); got > 5*time.Second {
		t.Errorf("a refused fast zero took %v: it waited for the 10 s delay", got)
	}
}
