package server

import (
	"context"
	"testing"
)

// benchDisk does as little as a handle can, so that the benchmarks measure the adapter.
type benchDisk struct{}

func (benchDisk) Size(ctx context.Context) (int64, error)               { return 1 << 30, nil }
func (benchDisk) ReadAt(ctx context.Context, p []byte, off int64) error { return nil }
func (benchDisk) WriteAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	return nil
}
func (benchDisk) Flush(ctx context.Context, flags Flags) error { return nil }

// benchZeroer adds native Zero and Extents to benchDisk.
type benchZeroer struct{ benchDisk }

func (benchZeroer) Zero(ctx context.Context, off, length int64, flags Flags) error { return nil }
func (benchZeroer) Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error {
	if err := e.Add(off, length/2, ExtentData); err != nil {
		return err
	}
	return e.Add(off+length/2, length-length/2, ExtentHole|ExtentZero)
}

func BenchmarkPluginLayerRead(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchDisk{}, false)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ReadAt(ctx, buf, 8192, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerWrite(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchDisk{}, false)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.WriteAt(ctx, buf, 8192, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerWriteFUAEmulated(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchDisk{}, false)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.WriteAt(ctx, buf, 8192, FlagFUA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerZero(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchZeroer{}, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Zero(ctx, 8192, 1<<20, FlagMayTrim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerZeroEmulated(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchDisk{}, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Zero(ctx, 8192, 4<<20, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerFastZeroRefused(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchDisk{}, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Zero(ctx, 8192, 4<<20, FlagFastZero); err == nil {
			b.Fatal("fast zero succeeded")
		}
	}
}

func BenchmarkPluginLayerExtents(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchZeroer{}, false)
	e := NewExtentList(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		e.Reset(8192, 8192+1<<20)
		if err := h.Extents(ctx, 8192, 1<<20, 0, e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerExtentsDefault(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, benchDisk{}, false)
	e := NewExtentList(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		e.Reset(8192, 8192+1<<20)
		if err := h.Extents(ctx, 8192, 1<<20, 0, e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPluginLayerCacheEmulated(b *testing.B) {
	ctx := context.Background()
	h := openPrepared(b, overriddenBench{}, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Cache(ctx, 8192, 4<<20, 0); err != nil {
			b.Fatal(err)
		}
	}
}

type overriddenBench struct{ benchDisk }

func (overriddenBench) Capabilities(ctx context.Context, c *Capabilities) error {
	c.Cache = CacheEmulate
	return nil
}
