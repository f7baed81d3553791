package null

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// openLayerHandle opens a null disk of size bytes the way the server does: adapted by
// server.PluginLayer, which checks the capabilities the handle claims.
func openLayerHandle(t testing.TB, size int64, readOnly bool) server.LayerHandle {
	t.Helper()
	p, err := New(Options{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.PluginLayer("null", p).Open(ctx, server.OpenRequest{ReadOnly: readOnly})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := h.Prepare(ctx, readOnly); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		_ = h.Finalize(ctx)
		_ = h.Close(ctx)
	})
	return h
}

func TestReadsZeroesWhateverWasWritten(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, 1<<20, false)
	if err := h.WriteAt(ctx, bytes.Repeat([]byte{0xab}, 8192), 4096, 0); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	for _, off := range []int64{0, 4096, 4097, 1<<20 - 100} {
		p := bytes.Repeat([]byte{0xaa}, 100) // garbage, which ReadAt must clear
		if err := h.ReadAt(ctx, p, off, 0); err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		if !bytes.Equal(p, make([]byte, 100)) {
			t.Errorf("ReadAt(%d) = %x, want zeroes", off, p)
		}
	}
}

func TestEveryRequestSucceeds(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, 1<<20, false)
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What nbdinfo shows of nbdkit's null plugin, with FUA native: there is nothing
	// a flush would do.
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
		Extents: true, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Fatalf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	requests := map[string]func() error{
		"write with FUA": func() error { return h.WriteAt(ctx, []byte("data"), 1000, server.FlagFUA) },
		"fast zero":      func() error { return h.Zero(ctx, 0, 1<<20, server.FlagFastZero|server.FlagMayTrim|server.FlagFUA) },
		"trim with FUA":  func() error { return h.Trim(ctx, 4096, 4096, server.FlagFUA) },
		"flush":          func() error { return h.Flush(ctx, 0) },
		"cache":          func() error { return h.Cache(ctx, 0, 1<<20, 0) },
	}
	for name, request := range requests {
		if err := request(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadOnlyConnection(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, 1<<20, true)
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Flush: true, Extents: true, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Errorf("read-only capabilities:\n got %+v\nwant %+v", caps, want)
	}
	if err := h.WriteAt(ctx, []byte{1}, 0, 0); err == nil {
		t.Error("a write on a read-only connection succeeded")
	}
}

func TestExtentsAreOneHoleReadingAsZeroes(t *testing.T) {
	ctx := context.Background()
	const size = 10 << 20
	h := openLayerHandle(t, size, false)
	for _, r := range []struct{ off, length int64 }{{0, size}, {12345, 1 << 20}, {size - 1, 1}} {
		e := server.NewExtentList(r.off, r.off+r.length)
		if err := h.Extents(ctx, r.off, r.length, 0, e); err != nil {
			t.Fatalf("Extents(%d, %d): %v", r.off, r.length, err)
		}
		want := []server.Extent{{Offset: r.off, Length: r.length, Type: server.ExtentHole | server.ExtentZero}}
		if got := e.Extents(); !slices.Equal(got, want) {
			t.Errorf("Extents(%d, %d) = %v, want %v", r.off, r.length, got, want)
		}
	}
}

func TestLargestDisk(t *testing.T) {
	const size = 1<<63 - 1
	h := openLayerHandle(t, size, false)
	p := []byte{0xff, 0xff}
	if err := h.ReadAt(context.Background(), p, size-2, 0); err != nil || p[0] != 0 || p[1] != 0 {
		t.Errorf("reading the last bytes: %x, %v", p, err)
	}
}

func TestNewRefusesNegativeSize(t *testing.T) {
	if _, err := New(Options{Size: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
}

// TestHotPathDoesNotAllocate holds the plugin to its purpose, measuring the server's
// own overhead: its requests, through the server's adapter, allocate nothing.
func TestHotPathDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, 1<<20, false)
	buf := make([]byte, 64<<10)
	e := server.NewExtentList(0, 1<<20)
	requests := map[string]func(){
		"read":    func() { _ = h.ReadAt(ctx, buf, 4096, 0) },
		"write":   func() { _ = h.WriteAt(ctx, buf, 4096, server.FlagFUA) },
		"zero":    func() { _ = h.Zero(ctx, 0, 1<<20, server.FlagFastZero) },
		"trim":    func() { _ = h.Trim(ctx, 0, 1<<20, 0) },
		"flush":   func() { _ = h.Flush(ctx, 0) },
		"extents": func() { e.Reset(0, 1<<20); _ = h.Extents(ctx, 0, 1<<20, 0, e) },
	}
	for name, request := range requests {
		if allocs := testing.AllocsPerRun(100, request); allocs != 0 {
			t.Errorf("%s allocates %v times per request", name, allocs)
		}
	}
}

func BenchmarkRead64K(b *testing.B) {
	ctx := context.Background()
	h := openLayerHandle(b, 1<<30, false)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := h.ReadAt(ctx, buf, int64(i%(1<<14))*int64(len(buf)), 0); err != nil {
			b.Fatal(err)
		}
	}
}
