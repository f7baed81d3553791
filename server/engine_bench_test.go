package server_test

// Benchmarks of the engine driven in-process over a Unix socket with protocol/client,
// and a measure of the server's allocations per request.

import (
	"context"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

func benchConn(b *testing.B, extended bool) (*client.Conn, *flatDisk) {
	b.Helper()
	d := &flatDisk{data: make([]byte, 64<<20)}
	path := startServer(b, server.PluginLayer("flat", d), server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Dial(ctx, "unix", path, &client.Options{DisableExtendedHeaders: !extended})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c, d
}

func BenchmarkServeRead4K(b *testing.B) {
	benchOp(b, 4096, func(ctx context.Context, c *client.Conn, buf []byte, i int) error {
		return c.ReadAt(ctx, buf, uint64(i%4096)*4096, 0)
	})
}

func BenchmarkServeWrite4K(b *testing.B) {
	benchOp(b, 4096, func(ctx context.Context, c *client.Conn, buf []byte, i int) error {
		return c.WriteAt(ctx, buf, uint64(i%4096)*4096, 0)
	})
}

// BenchmarkServeBlockStatus asks about 1 MiB of alternating 64 KiB extents: 16
// descriptors per reply.
func BenchmarkServeBlockStatus(b *testing.B) {
	benchOp(b, 0, func(ctx context.Context, c *client.Conn, buf []byte, i int) error {
		return c.BlockStatus(ctx, uint64(i%64)<<20, 1<<20, 0, func(string, []protocol.BlockDescriptor) error { return nil })
	})
}

// benchOp runs op serially and from 4×GOMAXPROCS goroutines on one connection, with
// compact (structured) and extended headers.
func benchOp(b *testing.B, bytes int64, op func(ctx context.Context, c *client.Conn, buf []byte, i int) error) {
	ctx := context.Background()
	for _, mode := range []struct {
		name     string
		extended bool
	}{{"structured", false}, {"extended", true}} {
		b.Run(mode.name, func(b *testing.B) {
			c, _ := benchConn(b, mode.extended)
			b.Run("serial", func(b *testing.B) {
				buf := make([]byte, 4096)
				b.ReportAllocs()
				b.SetBytes(bytes)
				for i := 0; b.Loop(); i++ {
					if err := op(ctx, c, buf, i); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(bytes)
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 4096)
					for i := 0; pb.Next(); i++ {
						if err := op(ctx, c, buf, i); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
