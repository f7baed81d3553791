package curl

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// BenchmarkReadNginx reads a 64 MiB image from nginx in 256 KiB requests, eight at a
// time, as nbdcopy would: the plugin's cost per byte and per request.
func BenchmarkReadNginx(b *testing.B) {
	const size, chunk, workers = 64 << 20, 256 << 10, 8
	ng, _, name, _ := nginxWithImage(b, size)
	p, err := New(Options{URL: ng.HTTP + name})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Cleanup(context.Background())
	h, err := p.Open(context.Background(), server.OpenRequest{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, chunk)
				for {
					off := next.Add(chunk) - chunk
					if off >= size {
						return
					}
					if err := h.ReadAt(context.Background(), buf, off); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}
