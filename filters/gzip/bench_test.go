package gzip

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// benchImageSize is the size of the benchmarks' image, compressed by gzip(1).
const benchImageSize = 64 << 20

func benchHandle(b *testing.B, opts Options) (server.LayerHandle, []byte) {
	b.Helper()
	img := testImage(benchImageSize, 30)
	_, h := mustOpen(b, diskOf(gzipCommand(b, img)).Layer(), opts)
	return h, img
}

// BenchmarkRandomRead4K reads 4 KiB at random offsets of the whole image, with the
// default cache of 8 blocks: mostly misses, each decompressing a 1 MiB block.
func BenchmarkRandomRead4K(b *testing.B) {
	h, _ := benchHandle(b, Options{})
	ctx := context.Background()
	p := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for range b.N {
		if err := h.ReadAt(ctx, p, rng.Int64N(benchImageSize/4096)*4096, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomRead4KCached reads 4 KiB at random offsets of the first 8 MiB, which
// the default cache holds: the cost of a hit.
func BenchmarkRandomRead4KCached(b *testing.B) {
	h, _ := benchHandle(b, Options{})
	ctx := context.Background()
	p := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := h.ReadAt(ctx, p, rng.Int64N(8<<20/4096)*4096, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomRead4KParallel is BenchmarkRandomRead4K from every CPU at once.
func BenchmarkRandomRead4KParallel(b *testing.B) {
	h, _ := benchHandle(b, Options{CacheSize: 8 * DefaultSpanSize})
	ctx := context.Background()
	var seed atomic.Uint64
	b.SetBytes(4096)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, 4096)
		rng := rand.New(rand.NewPCG(seed.Add(1), 0))
		for pb.Next() {
			if err := h.ReadAt(ctx, p, rng.Int64N(benchImageSize/4096)*4096, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSequentialRead reads the whole image in 256 KiB requests, as a copy does,
// through a cache too small to keep it from one pass to the next.
func BenchmarkSequentialRead(b *testing.B) {
	h, _ := benchHandle(b, Options{CacheSize: 8 * DefaultSpanSize})
	ctx := context.Background()
	p := make([]byte, 256<<10)
	b.SetBytes(benchImageSize)
	b.ResetTimer()
	for range b.N {
		for off := int64(0); off < benchImageSize; off += int64(len(p)) {
			if err := h.ReadAt(ctx, p, off, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}
