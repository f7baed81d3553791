package memory

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// The benchmarks model the workload the plugin is compared with nbdkit on: 4 KiB
// requests at random aligned offsets of a 1 GiB disk whose pages all exist, so that
// they measure the steady state rather than first-write page allocation.
const (
	benchDiskSize  = 1 << 30
	benchBlockSize = 4096
)

func newBenchHandle(b *testing.B, allocator string) fullHandle {
	b.Helper()
	h := openTestHandle(b, newTestPlugin(b, Options{Size: benchDiskSize, Allocator: allocator}))
	fill := make([]byte, 1<<20)
	for i := range fill {
		fill[i] = byte(i | 1)
	}
	for off := int64(0); off < benchDiskSize; off += int64(len(fill)) {
		mustWrite(b, h, fill, off)
	}
	return h
}

// randomBlock returns a random block-aligned offset of the benchmark disk.
func randomBlock(rng *rand.Rand) int64 {
	return rng.Int64N(benchDiskSize/benchBlockSize) * benchBlockSize
}

type benchOp func(h fullHandle, p []byte, off int64) error

func readOp(h fullHandle, p []byte, off int64) error {
	return h.ReadAt(context.Background(), p, off)
}

func writeOp(h fullHandle, p []byte, off int64) error {
	return h.WriteAt(context.Background(), p, off, 0)
}

func runBench(b *testing.B, allocator string, op benchOp) {
	h := newBenchHandle(b, allocator)
	p := make([]byte, benchBlockSize)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := op(h, p, randomBlock(rng)); err != nil {
			b.Fatal(err)
		}
	}
}

func runParallelBench(b *testing.B, allocator string, op benchOp) {
	h := newBenchHandle(b, allocator)
	var seed atomic.Uint64
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, benchBlockSize)
		rng := rand.New(rand.NewPCG(seed.Add(1), 0))
		for pb.Next() {
			if err := op(h, p, randomBlock(rng)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSparseRead4K(b *testing.B)          { runBench(b, allocatorSparse, readOp) }
func BenchmarkSparseWrite4K(b *testing.B)         { runBench(b, allocatorSparse, writeOp) }
func BenchmarkSparseRead4KParallel(b *testing.B)  { runParallelBench(b, allocatorSparse, readOp) }
func BenchmarkSparseWrite4KParallel(b *testing.B) { runParallelBench(b, allocatorSparse, writeOp) }
func BenchmarkMallocRead4K(b *testing.B)          { runBench(b, allocatorMalloc, readOp) }
func BenchmarkMallocWrite4K(b *testing.B)         { runBench(b, allocatorMalloc, writeOp) }
func BenchmarkMallocRead4KParallel(b *testing.B)  { runParallelBench(b, allocatorMalloc, readOp) }
func BenchmarkMallocWrite4KParallel(b *testing.B) { runParallelBench(b, allocatorMalloc, writeOp) }

func BenchmarkZstdRead4K(b *testing.B)          { runBench(b, allocatorZstd, readOp) }
func BenchmarkZstdWrite4K(b *testing.B)         { runBench(b, allocatorZstd, writeOp) }
func BenchmarkZstdRead4KParallel(b *testing.B)  { runParallelBench(b, allocatorZstd, readOp) }
func BenchmarkZstdWrite4KParallel(b *testing.B) { runParallelBench(b, allocatorZstd, writeOp) }

// BenchmarkSparseFirstWrite4K measures writes that allocate their page, the cost a
// fresh disk pays once per 32 KiB.
func BenchmarkSparseFirstWrite4K(b *testing.B) {
	h := openTestHandle(b, newTestPlugin(b, Options{Size: 1 << 62}))
	p := make([]byte, benchBlockSize)
	p[0] = 1
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := h.WriteAt(context.Background(), p, int64(i)*pageSize, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHotPathDoesNotAllocate pins the property the benchmarks report, so that a
// regression fails the tests rather than waiting for someone to read a benchmark.
func TestHotPathDoesNotAllocate(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		h := openTestHandle(t, newTestPlugin(t, Options{Size: 1 << 20, Allocator: allocator}))
		ctx := context.Background()
		p := make([]byte, benchBlockSize)
		p[0] = 1
		mustWrite(t, h, p, 8192) // the page exists from here on
		if n := testing.AllocsPerRun(100, func() { _ = h.ReadAt(ctx, p, 8192) }); n != 0 {
			t.Errorf("a read allocates %v times", n)
		}
		if n := testing.AllocsPerRun(100, func() { _ = h.ReadAt(ctx, p, 512<<10) }); n != 0 {
			t.Errorf("a read of a hole allocates %v times", n)
		}
		if n := testing.AllocsPerRun(100, func() { _ = h.WriteAt(ctx, p, 8192, 0) }); n != 0 {
			t.Errorf("a write to an existing page allocates %v times", n)
		}
	})
}
