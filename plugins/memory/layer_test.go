package memory

import (
	"context"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// openLayerHandle opens the plugin the way the server does: adapted by
// server.PluginLayer, which checks the capabilities the handle claims.
func openLayerHandle(t *testing.T, p *Plugin, readOnly bool) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	layer := server.PluginLayer("memory", p)
	h, err := layer.Open(ctx, server.OpenRequest{ReadOnly: readOnly})
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

// TestThroughPluginLayer checks what clients are offered, the flags nbdkit's memory
// plugin shows in nbdinfo, and that every request with every flag offered works.
func TestThroughPluginLayer(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		ctx := context.Background()
		p := newTestPlugin(t, Options{Size: 1 << 20, Allocator: allocator})
		h := openLayerHandle(t, p, false)

		caps, err := h.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
			Extents: true, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
		if caps != want {
			t.Fatalf("capabilities:\n got %+v\nwant %+v", caps, want)
		}

		if err := h.WriteAt(ctx, []byte("data"), 70000, server.FlagFUA); err != nil {
			t.Fatalf("WriteAt with FUA: %v", err)
		}
		if err := h.Zero(ctx, 0, 4096, server.FlagFUA|server.FlagFastZero|server.FlagMayTrim); err != nil {
			t.Fatalf("fast Zero: %v", err)
		}
		if err := h.Trim(ctx, 8192, 4096, server.FlagFUA); err != nil {
			t.Fatalf("Trim with FUA: %v", err)
		}
		if err := h.Flush(ctx, 0); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if err := h.Cache(ctx, 0, 1<<20, 0); err != nil {
			t.Fatalf("Cache: %v", err)
		}
		got := make([]byte, 4)
		if err := h.ReadAt(ctx, got, 70000, 0); err != nil || string(got) != "data" {
			t.Fatalf("ReadAt = %q, %v; want %q", got, err, "data")
		}

		e := server.NewExtentList(65536, 65536+32768)
		if err := h.Extents(ctx, 65536, 32768, 0, e); err != nil {
			t.Fatal(err)
		}
		wantExtents := []server.Extent{{Offset: 65536, Length: 32768, Type: server.ExtentData}}
		if got := e.Extents(); !slices.Equal(got, wantExtents) {
			t.Errorf("extents of a written page: got %v, want %v", got, wantExtents)
		}
	})
}

func TestReadOnlyConnectionThroughPluginLayer(t *testing.T) {
	h := openLayerHandle(t, newTestPlugin(t, Options{Size: 1 << 20}), true)
	caps, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Flush: true, Extents: true, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Errorf("read-only capabilities:\n got %+v\nwant %+v", caps, want)
	}
}
