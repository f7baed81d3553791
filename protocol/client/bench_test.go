package client_test

import (
	"testing"
)

// BenchmarkReadAt4K measures one 4 KiB read at a time against nbdkit's memory plugin
// over a Unix socket: the round trip, and the client's allocations per request.
func BenchmarkReadAt4K(b *testing.B) {
	ctx := testContext(b)
	c := dial(b, ctx, nbdkit(b, "memory", "64M"), nil)
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var off uint64
	for b.Loop() {
		if err := c.ReadAt(ctx, buf, off, 0); err != nil {
			b.Fatal(err)
		}
		off = (off + 4096) % c.Size()
	}
}

// BenchmarkReadAt4KParallel keeps many reads in flight on one connection.
func BenchmarkReadAt4KParallel(b *testing.B) {
	ctx := testContext(b)
	c := dial(b, ctx, nbdkit(b, "memory", "64M"), nil)
	b.SetBytes(4096)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		var off uint64
		for pb.Next() {
			if err := c.ReadAt(ctx, buf, off, 0); err != nil {
				b.Error(err)
				return
			}
			off = (off + 4096) % c.Size()
		}
	})
}

// BenchmarkWriteAt4K measures one 4 KiB write at a time: header and payload go out in
// one vectored write.
func BenchmarkWriteAt4K(b *testing.B) {
	ctx := testContext(b)
	c := dial(b, ctx, nbdkit(b, "memory", "64M"), nil)
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var off uint64
	for b.Loop() {
		if err := c.WriteAt(ctx, buf, off, 0); err != nil {
			b.Fatal(err)
		}
		off = (off + 4096) % c.Size()
	}
}
