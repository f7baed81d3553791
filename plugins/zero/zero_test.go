package zero

import (
	"context"
	"testing"

	"github.com/gonbd/gonbd/server"
)

func TestAnEmptyReadOnlyDisk(t *testing.T) {
	ctx := context.Background()
	h, err := server.PluginLayer("zero", New()).Open(ctx, server.OpenRequest{ExportName: "anything"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(ctx); size != 0 || err != nil {
		t.Errorf("Size = %d, %v; want 0", size, err)
	}
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What nbdinfo shows of nbdkit's zero plugin.
	if want := (server.Capabilities{MultiConn: true, Cache: server.CacheNative}); caps != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	if err := h.ReadAt(ctx, nil, 0, 0); err != nil {
		t.Errorf("a read of nothing: %v", err)
	}
	if err := h.Cache(ctx, 0, 0, 0); err != nil {
		t.Errorf("a cache of nothing: %v", err)
	}
	if err := h.WriteAt(ctx, nil, 0, 0); err == nil {
		t.Error("a write succeeded on the read-only disk")
	}
	if err := h.ReadAt(ctx, make([]byte, 1), 0, 0); err == nil {
		t.Error("a read past the end succeeded")
	}
}
