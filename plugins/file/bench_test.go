package file

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// The benchmarks do 4 KiB requests at random aligned offsets of a 64 MiB file that is
// allocated throughout, so that they measure the plugin's path to the page cache (or,
// with cache=none, to the disk) rather than block allocation.
const (
	benchFileSize  = 64 << 20
	benchBlockSize = 4096
)

func newBenchHandle(b *testing.B, noCache bool) *handle {
	b.Helper()
	path := sparseTestFile(b, benchFileSize)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	fill := make([]byte, 1<<20)
	for i := range fill {
		fill[i] = byte(i | 1)
	}
	for off := int64(0); off < benchFileSize; off += int64(len(fill)) {
		if _, err := f.WriteAt(fill, off); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	p := newTestPlugin(b, Options{File: path, NoCache: noCache})
	h, err := p.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.(*handle).Close() })
	return h.(*handle)
}

func benchRequests(b *testing.B, do func(h *handle, p []byte, off int64) error) {
	for _, mode := range []struct {
		name    string
		noCache bool
	}{{"cache=default", false}, {"cache=none", true}} {
		b.Run(mode.name, func(b *testing.B) {
			h := newBenchHandle(b, mode.noCache)
			p := make([]byte, benchBlockSize)
			rng := rand.New(rand.NewPCG(1, 2))
			b.SetBytes(benchBlockSize)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				off := rng.Int64N(benchFileSize/benchBlockSize) * benchBlockSize
				if err := do(h, p, off); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadAt(b *testing.B) {
	benchRequests(b, func(h *handle, p []byte, off int64) error {
		return h.ReadAt(context.Background(), p, off)
	})
}

func BenchmarkWriteAt(b *testing.B) {
	benchRequests(b, func(h *handle, p []byte, off int64) error {
		return h.WriteAt(context.Background(), p, off, 0)
	})
}

// TestHotPathDoesNotAllocate pins what the benchmarks report: reads and writes,
// aligned or not, with or without cache=none, allocate nothing once the pools are
// warm.
func TestHotPathDoesNotAllocate(t *testing.T) {
	path := writeTestFile(t, make([]byte, 1<<20))
	for _, noCache := range []bool{false, true} {
		p := newTestPlugin(t, Options{File: path, NoCache: noCache})
		h, err := p.Open(context.Background(), server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.(*handle).Close()
		fh := h.(*handle)
		ctx := context.Background()
		buf := make([]byte, 8192)
		for _, r := range []struct{ off, n int64 }{{8192, 4096}, {1000, 3000}} {
			p := buf[:r.n]
			if n := testing.AllocsPerRun(50, func() { _ = fh.ReadAt(ctx, p, r.off) }); n != 0 {
				t.Errorf("cache=none %v: a read of %d bytes at %d allocates %v times", noCache, r.n, r.off, n)
			}
			if n := testing.AllocsPerRun(50, func() { _ = fh.WriteAt(ctx, p, r.off, 0) }); n != 0 {
				t.Errorf("cache=none %v: a write of %d bytes at %d allocates %v times", noCache, r.n, r.off, n)
			}
		}
	}
}
