package scan

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// recorder records the ranges of one kind of request that reach a disk, and can hold
// each of them until the test lets it go.
type recorder struct {
	op   string
	gate chan struct{} // nil: requests pass at once

	mu     sync.Mutex
	ranges [][2]int64
}

func record(d *servertest.Disk, op string, gated bool) *recorder {
	r := &recorder{op: op}
	if gated {
		r.gate = make(chan struct{})
	}
	d.Fault = func(op string, off, length int64) error {
		if op != r.op {
			return nil
		}
		r.mu.Lock()
		r.ranges = append(r.ranges, [2]int64{off, length})
		r.mu.Unlock()
		if r.gate != nil {
			<-r.gate
		}
		return nil
	}
	return r
}

func (r *recorder) got() [][2]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ranges)
}

// waitFor polls until cond holds, failing the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// covers reports whether ranges cover [0, size) in order without overlap.
func covers(ranges [][2]int64, size int64) bool {
	next := int64(0)
	for _, r := range ranges {
		if r[0] != next {
			return false
		}
		next += r[1]
	}
	return next == size
}

func newFilter(t *testing.T, next server.Layer, opts Options) *Filter {
	t.Helper()
	f, err := New(next, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func open(t *testing.T, f *Filter) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeHandle(h) })
	return h
}

func closeHandle(h server.LayerHandle) {
	ctx := context.Background()
	h.Finalize(ctx)
	h.Close(ctx)
}

func TestScansTheDiskWithCacheRequests(t *testing.T) {
	const size = 10<<20 + 4096
	d := servertest.NewDisk(size)
	rec := record(d, "cache", false)
	open(t, newFilter(t, d.Layer(), DefaultOptions()))
	waitFor(t, "the scan to cover the disk", func() bool { return covers(rec.got(), size) })
	for _, r := range rec.got() {
		if r[1] > DefaultSize {
			t.Errorf("a prefetch of %d bytes, more than scan-size", r[1])
		}
	}
	if d.Counts().Reads.Load() != 0 {
		t.Error("the scan read although the plugin can prefetch")
	}
}

// noCache hides the next layer's cache requests, like a plugin that cannot prefetch.
type noCache struct{ server.PassThrough }

func (l noCache) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := l.Next.Open(ctx, req)
	return noCacheHandle{server.PassThroughHandle{Next: h}}, err
}

type noCacheHandle struct{ server.PassThroughHandle }

func (h noCacheHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Cache = server.CacheNone
	return c, err
}

func TestScansByReadingWithoutCache(t *testing.T) {
	const size = 5 << 20
	d := servertest.NewDisk(size)
	rec := record(d, "read", false)
	open(t, newFilter(t, noCache{server.PassThrough{Next: d.Layer()}}, Options{Size: 1 << 20}))
	waitFor(t, "the scan to read the disk", func() bool { return covers(rec.got(), size) })
}

func TestScanAheadSkipsPastReads(t *testing.T) {
	const size, step = 64 << 20, 1 << 20
	d := servertest.NewDisk(size)
	rec := record(d, "cache", true)
	h := open(t, newFilter(t, d.Layer(), Options{Ahead: true, Size: step}))
	waitFor(t, "the first prefetch", func() bool { return len(rec.got()) == 1 })
	// The scanner is held in its first prefetch; the client reads far ahead.
	p := make([]byte, 4096)
	if err := h.ReadAt(context.Background(), p, 20<<20+100, 0); err != nil {
		t.Fatal(err)
	}
	rec.gate <- struct{}{}
	waitFor(t, "the second prefetch", func() bool { return len(rec.got()) == 2 })
	if got := rec.got()[1][0]; got != 21<<20 {
		t.Errorf("after a read at 20 MiB the scan went on at %d, want %d", got, 21<<20)
	}
	close(rec.gate)
}

// TestClock scans part of the disk on one connection, closes it, and checks where the
// next connection's scan starts.
func TestClock(t *testing.T) {
	for _, clock := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[clock], func(t *testing.T) {
			const size, step = 64 << 20, 1 << 20
			d := servertest.NewDisk(size)
			rec := record(d, "cache", true)
			f := newFilter(t, d.Layer(), Options{Clock: clock, Size: step})
			ctx := context.Background()
			h, err := f.Open(ctx, server.OpenRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Prepare(ctx, false); err != nil {
				t.Fatal(err)
			}
			rec.gate <- struct{}{}
			rec.gate <- struct{}{}
			waitFor(t, "the third prefetch", func() bool { return len(rec.got()) == 3 })
			// Stop the scanner while it is held in its third prefetch, then let every
			// prefetch go and close the connection.
			h.(*handle).stop()
			close(rec.gate)
			closeHandle(h)

			n := len(rec.got())
			open(t, f)
			waitFor(t, "the next connection's scan", func() bool { return len(rec.got()) > n })
			got := rec.got()[n][0]
			// The scanner may have claimed one more range before it saw the stop.
			if clock && got != 3*step && got != 4*step {
				t.Errorf("with the clock, the second connection's scan started at %d, want %d", got, 3*step)
			}
			if !clock && got != 0 {
				t.Errorf("without the clock, the second connection's scan started at %d, want 0", got)
			}
		})
	}
}

func TestForever(t *testing.T) {
	const size = 4 << 20
	d := servertest.NewDisk(size)
	rec := record(d, "cache", false)
	open(t, newFilter(t, d.Layer(), Options{Forever: true, Size: 1 << 20}))
	waitFor(t, "three passes", func() bool { return len(rec.got()) >= 12 })
	got := rec.got()
	if !covers(got[:4], size) || !covers(got[4:8], size) {
		t.Errorf("the passes do not start over: %v", got[:8])
	}
}

func TestOnlyTheDefaultExportScans(t *testing.T) {
	d := servertest.NewDisk(1 << 20)
	f := newFilter(t, d.Layer(), DefaultOptions())
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{ExportName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	closeHandle(h)
	if n := d.Counts().Caches.Load(); n != 0 {
		t.Errorf("a connection to another export scanned (%d cache requests)", n)
	}
}

// serialized is a layer whose plugin does not serve requests in parallel.
type serialized struct{ server.PassThrough }

func (serialized) ThreadModel() server.ThreadModel { return server.SerializeRequests }

func TestSerializedPluginIsNotScanned(t *testing.T) {
	d := servertest.NewDisk(1 << 20)
	h := open(t, newFilter(t, serialized{server.PassThrough{Next: d.Layer()}}, DefaultOptions()))
	time.Sleep(50 * time.Millisecond)
	closeHandle(h)
	if n := d.Counts().Caches.Load(); n != 0 {
		t.Errorf("a serialized plugin was scanned (%d cache requests)", n)
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, want string }{
		{"scan-size=3M", "power of 2"},
		{"scan-size=big", "scan-size=big"},
		{"scan-ahead=maybe", "scan-ahead=maybe"},
		{"scan-clock=2", "scan-clock=2"},
		{"scan-forever=sometimes", "scan-forever=sometimes"},
	} {
		d := servertest.NewDisk(4096)
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.param, err, tc.want)
		}
	}
}
