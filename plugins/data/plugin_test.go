package data

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// openLayer makes the plugin from opts, gets it ready and opens it the way the server
// does: adapted by server.PluginLayer, which checks the capabilities the handle claims
// and the bounds of every request.
func openLayer(t *testing.T, opts Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	layer := server.PluginLayer("data", p)
	if err := layer.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { layer.Cleanup(ctx) })
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		_ = h.Finalize(ctx)
		_ = h.Close(ctx)
	})
	return h
}

func forEachAllocator(t *testing.T, test func(t *testing.T, allocator string)) {
	for _, allocator := range []string{allocatorSparse, allocatorMalloc, allocatorZstd} {
		t.Run(allocator, func(t *testing.T) { test(t, allocator) })
	}
}

// TestDiskThroughPluginLayer checks what clients are offered (what nbdinfo shows for
// nbdkit's data plugin), and that the disk starts with the data and takes writes,
// zeroes and trims with every flag offered.
func TestDiskThroughPluginLayer(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		ctx := context.Background()
		h := openLayer(t, Options{Data: `"hello" @70000 "world"`, Size: 100000, HasSize: true, Allocator: allocator})

		caps, err := h.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
			Extents: true, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
		if caps != want {
			t.Fatalf("capabilities:\n got %+v\nwant %+v", caps, want)
		}
		if size, err := h.Size(ctx); err != nil || size != 100000 {
			t.Fatalf("size %d, %v; want 100000", size, err)
		}

		model := make([]byte, 100000)
		copy(model, "hello")
		copy(model[70000:], "world")
		check := func(when string) {
			t.Helper()
			got := bytes.Repeat([]byte{0xaa}, len(model))
			if err := h.ReadAt(ctx, got, 0, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, model) {
				t.Fatalf("%s: the disk differs from what was written", when)
			}
		}
		check("at first")

		if err := h.WriteAt(ctx, []byte("data"), 69998, server.FlagFUA); err != nil {
			t.Fatalf("WriteAt with FUA: %v", err)
		}
		copy(model[69998:], "data")
		if err := h.Zero(ctx, 1, 3, server.FlagFUA|server.FlagFastZero|server.FlagMayTrim); err != nil {
			t.Fatalf("fast Zero: %v", err)
		}
		clear(model[1:4])
		if err := h.Trim(ctx, 70002, 2, server.FlagFUA); err != nil {
			t.Fatalf("Trim with FUA: %v", err)
		}
		clear(model[70002:70004])
		for _, err := range []error{h.Flush(ctx, 0), h.Cache(ctx, 0, 100000, 0)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		check("after writing")

		if err := h.WriteAt(ctx, []byte("x"), 100000, 0); err == nil {
			t.Fatal("a write past the end succeeded")
		}
	})
}

// TestExtentsTellTheTruth checks the extents of the sparse allocator: holes where
// nothing was written, zeroes where zeroes were, data elsewhere, through writes and
// trims by clients. The malloc allocator says data everywhere, as nbdkit's does.
func TestExtentsTellTheTruth(t *testing.T) {
	ctx := context.Background()
	const hole, zero, data = server.ExtentHole | server.ExtentZero, server.ExtentZero, server.ExtentData
	extents := func(h server.LayerHandle) []server.Extent {
		t.Helper()
		e := server.NewExtentList(0, 8*pageSize)
		if err := h.Extents(ctx, 0, 8*pageSize, 0, e); err != nil {
			t.Fatal(err)
		}
		return append([]server.Extent(nil), e.Extents()...)
	}
	h := openLayer(t, Options{Data: `1 @^32768 @+32768 "\x00" @^32768 0*32768 @-1 2`, Size: 8 * pageSize, HasSize: true})
	got := extents(h)
	// Page 0 holds the 1; the zero byte written in page 2 makes no page; page 3 holds
	// the 2 at its end.
	wantExtents := []server.Extent{
		{Offset: 0, Length: pageSize, Type: data},
		{Offset: pageSize, Length: 2 * pageSize, Type: hole},
		{Offset: 3 * pageSize, Length: pageSize, Type: data},
		{Offset: 4 * pageSize, Length: 4 * pageSize, Type: hole},
	}
	if !equalExtents(got, wantExtents) {
		t.Fatalf("extents at first\n got %+v\nwant %+v", got, wantExtents)
	}

	if err := h.WriteAt(ctx, []byte{0, 0}, 5*pageSize, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAt(ctx, []byte{9}, 6*pageSize+5, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Zero(ctx, 6*pageSize+5, 1, 0); err != nil { // the page stays, all zero
		t.Fatal(err)
	}
	if err := h.Trim(ctx, 0, pageSize, 0); err != nil { // the page goes
		t.Fatal(err)
	}
	wantExtents = []server.Extent{
		{Offset: 0, Length: 3 * pageSize, Type: hole},
		{Offset: 3 * pageSize, Length: pageSize, Type: data},
		{Offset: 4 * pageSize, Length: 2 * pageSize, Type: hole},
		{Offset: 6 * pageSize, Length: pageSize, Type: zero},
		{Offset: 7 * pageSize, Length: pageSize, Type: hole},
	}
	if got := extents(h); !equalExtents(got, wantExtents) {
		t.Fatalf("extents after writes\n got %+v\nwant %+v", got, wantExtents)
	}

	malloc := openLayer(t, Options{Data: `1`, Size: 8 * pageSize, HasSize: true, Allocator: allocatorMalloc})
	if got, want := extents(malloc), []server.Extent{{Offset: 0, Length: 8 * pageSize, Type: data}}; !equalExtents(got, want) {
		t.Fatalf("malloc extents %+v, want %+v", got, want)
	}
}

// TestPluginLifecycle checks GetReady's contract: Open before it fails, a second call
// does nothing, and the data is evaluated once.
func TestPluginLifecycle(t *testing.T) {
	ctx := context.Background()
	p, err := New(Options{Data: `"once"`})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(ctx, server.OpenRequest{}); server.ErrnoOf(err) == 0 {
		t.Fatalf("Open before GetReady gave %v, want an error", err)
	}
	for range 2 {
		if err := p.GetReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h, err := p.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.(server.Writer).WriteAt(ctx, []byte("ONCE"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.GetReady(ctx); err != nil { // must not evaluate again over the write
		t.Fatal(err)
	}
	if got := contents(t, p); string(got) != "ONCE" {
		t.Fatalf("contents %q after a second GetReady, want %q", got, "ONCE")
	}
	p.Cleanup(ctx)
}

// TestNewRefusesBadOptions checks the errors of New.
func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Data: "1", Raw: []byte("2")}, "not both"},
		{Options{Size: -1, HasSize: true}, "size -1 is negative"},
		{Options{Allocator: "bogus"}, `unknown allocator "bogus"`},
		{Options{Mlock: true}, "mlock=true needs allocator=malloc"},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want one saying %q", tt.opts, err, tt.want)
		}
	}
}

// TestMallocMlock checks allocator=malloc,mlock=true where the platform can lock
// memory, and its refusal where it cannot.
func TestMallocMlock(t *testing.T) {
	p, err := New(Options{Data: `"locked" @4096`, Allocator: allocatorMalloc, Mlock: true})
	if !canLockMemory {
		if err == nil {
			t.Fatal("mlock=true accepted where memory cannot be locked")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := p.GetReady(context.Background()); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EAGAIN) {
			t.Skipf("this process may not lock memory: %v", err)
		}
		t.Fatal(err)
	}
	defer p.Cleanup(context.Background())
	if got := contents(t, p); !bytes.HasPrefix(got, []byte("locked")) || len(got) != 4096 {
		t.Fatalf("contents %q..., %d bytes", got[:6], len(got))
	}
}

// TestReadWriteAllocateNothing checks that reads, and writes to pages that exist,
// allocate nothing: they are the hot path.
func TestReadWriteAllocateNothing(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		ctx := context.Background()
		p, err := New(Options{Data: `1 @70000 2`, Allocator: allocator})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.GetReady(ctx); err != nil {
			t.Fatal(err)
		}
		defer p.Cleanup(ctx)
		h, err := p.Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		w := h.(server.Writer)
		buf := bytes.Repeat([]byte{7}, 8192)
		allocs := testing.AllocsPerRun(100, func() {
			_ = w.WriteAt(ctx, buf, 100, 0)      // a page that exists
			_ = h.ReadAt(ctx, buf, 30000)        // across a page that exists and one that does not
			_ = h.ReadAt(ctx, buf[:4096], 40000) // a page that does not exist
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per read and write, want none", allocs)
		}
	})
}
