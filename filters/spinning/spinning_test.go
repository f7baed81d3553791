package spinning_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/spinning"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// fakeClock records the seeks instead of sleeping.
type fakeClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	return nil
}

func (c *fakeClock) take() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.waits
	c.waits = nil
	return w
}

func open(t *testing.T, size int64, opts spinning.Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	layer, err := spinning.New(servertest.NewDisk(size).Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSeekTimes(t *testing.T) {
	const size = 1 << 20
	const minSeek, maxSeek = time.Millisecond, 101 * time.Millisecond
	clock := &fakeClock{}
	h := open(t, size, spinning.Options{MinSeekTime: minSeek, MaxSeekTime: maxSeek, Sleep: clock.sleep})
	ctx := context.Background()
	seek := func(distance int64) time.Duration {
		return minSeek + time.Duration(float64(maxSeek-minSeek)*float64(distance)/size)
	}
	buf := make([]byte, 4096)
	steps := []struct {
		name string
		op   func() error
		want []time.Duration
	}{
		{"read at the start", func() error { return h.ReadAt(ctx, buf, 0, 0) }, nil},
		{"sequential read", func() error { return h.ReadAt(ctx, buf, 4096, 0) }, nil},
		{"seek forward", func() error { return h.ReadAt(ctx, buf, size/2, 0) }, []time.Duration{seek(size/2 - 8192)}},
		{"seek back", func() error { return h.WriteAt(ctx, buf, 0, 0) }, []time.Duration{seek(size/2 + 4096)}},
		{"zero goes on", func() error { return h.Zero(ctx, 4096, 8192, 0) }, nil},
		{"cache at the end", func() error { return h.Cache(ctx, size-4096, 4096, 0) }, []time.Duration{seek(size - 4096 - 12288)}},
		{"trim does not move the head", func() error { return h.Trim(ctx, 0, 4096, 0) }, nil},
		{"flush does not either", func() error { return h.Flush(ctx, 0) }, nil},
		{"extents neither", func() error { return h.Extents(ctx, 0, size, 0, server.NewExtentList(0, size)) }, nil},
		{"one byte away", func() error { return h.ReadAt(ctx, buf[:1], size-1, 0) }, []time.Duration{seek(1)}},
	}
	for _, s := range steps {
		if err := s.op(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := clock.take(); !equal(got, s.want) {
			t.Errorf("%s: waited %v, want %v", s.name, got, s.want)
		}
	}
}

func equal(a, b []time.Duration) bool {
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

func TestHeadsHaveZones(t *testing.T) {
	const size = 4 << 20 // four zones of 1 MiB
	clock := &fakeClock{}
	h := open(t, size, spinning.Options{Heads: 4, MinSeekTime: time.Millisecond, MaxSeekTime: 2 * time.Millisecond, Sleep: clock.sleep})
	ctx := context.Background()
	buf := make([]byte, 512)
	// Each head starts at its zone's start, so the first request in each zone there
	// seeks not at all, and a head's position is its own.
	for zone := range int64(4) {
		if err := h.ReadAt(ctx, buf, zone<<20, 0); err != nil {
			t.Fatal(err)
		}
	}
	if w := clock.take(); len(w) != 0 {
		t.Errorf("first reads at the zones' starts waited %v", w)
	}
	for zone := range int64(4) {
		if err := h.ReadAt(ctx, buf, zone<<20+512, 0); err != nil {
			t.Fatal(err)
		}
	}
	if w := clock.take(); len(w) != 0 {
		t.Errorf("sequential reads in every zone waited %v", w)
	}
	if err := h.ReadAt(ctx, buf, 3<<20+(1<<19), 0); err != nil {
		t.Fatal(err)
	}
	// The head rests at 1 KiB into its zone: the seek is half a zone less 1 KiB.
	span, distance := float64(time.Millisecond), float64(1<<19-1024)
	want := time.Millisecond + time.Duration(span*distance/(1<<20))
	if w := clock.take(); len(w) != 1 || w[0] != want {
		t.Errorf("a seek across half a zone waited %v, want [%v]", w, want)
	}
}

func TestSeeksReallyWaitAndSerialize(t *testing.T) {
	const seek = 40 * time.Millisecond
	h := open(t, 1<<20, spinning.Options{MinSeekTime: seek, MaxSeekTime: seek})
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			if err := h.ReadAt(ctx, buf, int64(i+1)*100000, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// One head: the four seeks happen one after the other.
	if elapsed := time.Since(start); elapsed < 4*seek {
		t.Errorf("four seeks on one head took %v, less than %v", elapsed, 4*seek)
	}
}

func TestCanceledSeek(t *testing.T) {
	h := open(t, 1<<20, spinning.Options{MinSeekTime: time.Hour, MaxSeekTime: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.ReadAt(ctx, make([]byte, 1), 1000, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a seek cut short: %v, want the context's error", err)
	}
}

func TestCapabilitiesAndName(t *testing.T) {
	layer, err := spinning.New(servertest.NewDisk(4096).Layer(), spinning.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if layer.Name() != "spinning" {
		t.Errorf("Name() = %q", layer.Name())
	}
	h := open(t, 4096, spinning.Options{})
	c, err := h.Capabilities(context.Background())
	if err != nil || !c.Rotational || !c.Write {
		t.Errorf("capabilities %+v, %v; want rotational and writable", c, err)
	}
}

func TestSequentialReadsDoNotAllocate(t *testing.T) {
	h := open(t, 1<<20, spinning.Options{MinSeekTime: time.Millisecond, MaxSeekTime: time.Millisecond})
	ctx := context.Background()
	buf := make([]byte, 4096)
	var off int64
	allocs := testing.AllocsPerRun(100, func() {
		if err := h.ReadAt(ctx, buf, off, 0); err != nil {
			t.Fatal(err)
		}
		off += 4096
	})
	if allocs != 0 {
		t.Errorf("a sequential read allocates %v times", allocs)
	}
}

func TestParseSeconds(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"0": 0, "0.02": 20 * time.Millisecond, "1": time.Second, "5ms": 5 * time.Millisecond, "1.5s": 1500 * time.Millisecond,
	} {
		if got, err := spinning.ParseSeconds(s); err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", " 1", "-1", "-2ms", "fast", "1e-3", "1..2"} {
		if d, err := spinning.ParseSeconds(s); err == nil {
			t.Errorf("ParseSeconds(%q) = %v, want an error", s, d)
		}
	}
}

func TestParameters(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, params := range [][]string{
		nil,
		{"heads=8"},
		{"max-seek-time=0.0005"}, // below the default minimum, which follows
		{"min-seek-time=0.5"},    // above the default maximum, which follows
		{"min-seek-time=0", "max-seek-time=0"},
	} {
		if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{spinning.Spec()}, params...); err != nil {
			t.Errorf("%q: %v", params, err)
		}
	}
	for _, tc := range []struct{ param, want string }{
		{"heads=0", "heads=0: a disk has from 1 to 65536 heads"},
		{"heads=many", "heads=many"},
		{"min-seek-time=-1", "min-seek-time=-1: duration \"-1\" is negative"},
		{"max-seek-time=slow", "max-seek-time=slow: could not parse duration"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{spinning.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.param, err, tc.want)
		}
	}
	_, err := servertest.Stack(d.Spec(), []server.FilterSpec{spinning.Spec()}, "min-seek-time=10ms", "max-seek-time=5ms")
	if err == nil || !strings.Contains(err.Error(), "min-seek-time (10ms) is longer than max-seek-time (5ms)") {
		t.Errorf("min > max: error %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{spinning.Spec()}, "min-seek-time=50ms", "max-seek-time=0.05")
	servertest.QemuIO(t, s.URI(), "write -P 0x42 0 64k", "read -P 0x42 0 64k")
	servertest.Nbdsh(t, s.URI(),
		"import time",
		"assert h.is_rotational()",
		"h.pread(4096, 0)", // the last client left the head at 64 KiB
		"start = time.monotonic()",
		"for off in [512 * 1024, 0, 512 * 1024, 0]:\n  assert h.pread(4096, off) == (b'\\x42' if off == 0 else b'\\x00') * 4096",
		"elapsed = time.monotonic() - start",
		"assert elapsed >= 4 * 0.05, elapsed",
		"start = time.monotonic()",
		"for off in range(4096, 20 * 4096, 4096):\n  h.pread(4096, off)",
		"print('sequential', time.monotonic() - start)",
	)
}
