package full

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// openLayerHandle opens a full disk of size bytes the way the server does: adapted by
// server.PluginLayer, which also emulates the zero requests the handle lacks.
func openLayerHandle(t testing.TB, size int64, readOnly bool) server.LayerHandle {
	t.Helper()
	p, err := New(Options{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.PluginLayer("full", p).Open(ctx, server.OpenRequest{ReadOnly: readOnly})
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

func TestReadsZeroes(t *testing.T) {
	h := openLayerHandle(t, 1<<20, false)
	p := bytes.Repeat([]byte{0xaa}, 4097)
	if err := h.ReadAt(context.Background(), p, 1000, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, make([]byte, len(p))) {
		t.Error("a read did not return zeroes")
	}
}

// TestEveryWriteFails checks the errors clients get, as nbdkit's full plugin gives
// them: ENOSPC for writes, trims and zeroes, ENOTSUP for a fast zero.
func TestEveryWriteFails(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, 1<<20, false)
	tests := []struct {
		name    string
		request func() error
		want    protocol.Errno
	}{
		{"write", func() error { return h.WriteAt(ctx, []byte{0}, 0, 0) }, protocol.ENOSPC},
		{"write of zeroes", func() error { return h.WriteAt(ctx, make([]byte, 4096), 4096, 0) }, protocol.ENOSPC},
		{"trim", func() error { return h.Trim(ctx, 0, 4096, 0) }, protocol.ENOSPC},
		{"zero", func() error { return h.Zero(ctx, 0, 1<<20, server.FlagMayTrim) }, protocol.ENOSPC},
		{"fast zero", func() error { return h.Zero(ctx, 0, 4096, server.FlagFastZero) }, protocol.ENOTSUP},
	}
	for _, tt := range tests {
		if got := server.ErrnoOf(tt.request()); got != tt.want {
			t.Errorf("%s: error %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := h.WriteAt(ctx, []byte{0}, 0, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("a write's error %v does not wrap ENOSPC", err)
	}
}

func TestCapabilitiesMatchNbdkit(t *testing.T) {
	h := openLayerHandle(t, 1<<20, false)
	caps, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// What nbdinfo shows of nbdkit's full plugin.
	want := server.Capabilities{Write: true, Trim: true, Zero: true, FastZero: true,
		Extents: true, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	if err := h.Cache(context.Background(), 0, 1<<20, 0); err != nil {
		t.Errorf("cache: %v", err)
	}
}

func TestExtentsAreOneHole(t *testing.T) {
	h := openLayerHandle(t, 1<<20, false)
	e := server.NewExtentList(4096, 8192)
	if err := h.Extents(context.Background(), 4096, 4096, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{{Offset: 4096, Length: 4096, Type: server.ExtentHole | server.ExtentZero}}
	if got := e.Extents(); !slices.Equal(got, want) {
		t.Errorf("extents = %v, want %v", got, want)
	}
}

func TestNewRefusesNegativeSize(t *testing.T) {
	if _, err := New(Options{Size: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
}

func TestRefusedWritesDoNotAllocate(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, 1<<20, false)
	buf := make([]byte, 4096)
	if allocs := testing.AllocsPerRun(100, func() { _ = h.WriteAt(ctx, buf, 0, 0) }); allocs != 0 {
		t.Errorf("a refused write allocates %v times", allocs)
	}
}
