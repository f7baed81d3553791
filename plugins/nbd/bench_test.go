package nbd

import (
	"context"
	"strconv"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// BenchmarkProxyRequests measures reads and writes through the plugin's handle to an
// in-process server: the cost the proxy adds on top of a round trip.
func BenchmarkProxyRequests(b *testing.B) {
	disk := servertest.NewDisk(64 * miB)
	remote := servertest.Start(b, disk.Layer(), server.Options{})
	p, err := New(Options{Socket: remote.Socket})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Cleanup(context.Background())
	ctx := context.Background()
	h, err := p.Open(ctx, server.OpenRequest{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.(*handle).Close()
	w := h.(server.Writer)
	for _, size := range []int{4 * kiB, 1 * miB} {
		buf := make([]byte, size)
		b.Run("read-"+byteSize(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p := make([]byte, size)
				for pb.Next() {
					if err := h.ReadAt(ctx, p, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run("write-"+byteSize(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for range b.N {
				if err := w.WriteAt(ctx, buf, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func byteSize(n int) string {
	if n >= miB {
		return strconv.Itoa(n/miB) + "MiB"
	}
	return strconv.Itoa(n/kiB) + "KiB"
}
