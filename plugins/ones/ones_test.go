package ones

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// openLayerHandle opens a disk as opts describe the way the server does: adapted by
// server.PluginLayer, which checks the capabilities the handle claims.
func openLayerHandle(t testing.TB, opts Options, readOnly bool) server.LayerHandle {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.PluginLayer("ones", p).Open(ctx, server.OpenRequest{ReadOnly: readOnly})
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

func byteOption(b byte) *byte { return &b }

func TestReadsTheByteWhateverWasWritten(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  *byte
		want byte
	}{{"default", nil, 0xff}, {"byte=0", byteOption(0), 0}, {"byte=0x5a", byteOption(0x5a), 0x5a}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := openLayerHandle(t, Options{Size: 1 << 20, Byte: tt.opt}, false)
			if err := h.WriteAt(ctx, bytes.Repeat([]byte{0x12}, 4096), 0, 0); err != nil {
				t.Fatal(err)
			}
			if err := h.Zero(ctx, 4096, 4096, 0); err != nil {
				t.Fatal(err)
			}
			if err := h.Trim(ctx, 8192, 4096, 0); err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 2, 3, 4095, 4096, 65537} {
				p := bytes.Repeat([]byte{0x99}, n) // garbage, which ReadAt must overwrite
				if err := h.ReadAt(ctx, p, 1, 0); err != nil {
					t.Fatalf("ReadAt(%d bytes): %v", n, err)
				}
				if want := bytes.Repeat([]byte{tt.want}, n); !bytes.Equal(p, want) {
					t.Errorf("ReadAt(%d bytes) = %x..., want %#x bytes", n, p[:min(n, 16)], tt.want)
				}
			}
		})
	}
}

func TestCapabilitiesAndExtents(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, Options{Size: 1 << 20}, false)
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
		Extents: true, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Fatalf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	if err := h.Zero(ctx, 0, 1<<20, server.FlagFastZero|server.FlagFUA); err != nil {
		t.Errorf("fast zero: %v", err)
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Errorf("flush: %v", err)
	}
	if err := h.Cache(ctx, 0, 1<<20, 0); err != nil {
		t.Errorf("cache: %v", err)
	}
	e := server.NewExtentList(100, 5000)
	if err := h.Extents(ctx, 100, 4900, 0, e); err != nil {
		t.Fatal(err)
	}
	if got, want := e.Extents(), []server.Extent{{Offset: 100, Length: 4900, Type: server.ExtentData}}; !slices.Equal(got, want) {
		t.Errorf("extents = %v, want %v", got, want)
	}
}

func TestNewRefusesNegativeSize(t *testing.T) {
	if _, err := New(Options{Size: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
}

func TestReadDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, Options{Size: 1 << 20}, false)
	buf := make([]byte, 64<<10)
	if allocs := testing.AllocsPerRun(100, func() { _ = h.ReadAt(ctx, buf, 4096, 0) }); allocs != 0 {
		t.Errorf("ReadAt allocates %v times per request", allocs)
	}
}

func BenchmarkRead64K(b *testing.B) {
	ctx := context.Background()
	h := openLayerHandle(b, Options{Size: 1 << 30}, false)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := h.ReadAt(ctx, buf, int64(i%(1<<14))*int64(len(buf)), 0); err != nil {
			b.Fatal(err)
		}
	}
}
