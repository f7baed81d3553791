package protocol_test

import (
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// The hot-path benchmarks: every one must report 0 allocs/op. TestAppendZeroAllocs and
// TestDecodeHeadersZeroAllocs check the same calls without -bench.

func decodeRequestLoop(b []byte, ext bool, n int) error {
	var r protocol.Request
	for range n {
		if err := protocol.DecodeRequest(b, ext, &r); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkDecodeRequest(b *testing.B) {
	wire := protocol.AppendRequest(nil, &protocol.Request{Flags: protocol.CmdFlagFUA, Type: protocol.CmdWrite, Cookie: 1, Offset: 1 << 20, Length: 4096}, false)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	b.ResetTimer()
	if err := decodeRequestLoop(wire, false, b.N); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkDecodeRequestExtended(b *testing.B) {
	wire := protocol.AppendRequest(nil, &protocol.Request{Flags: protocol.CmdFlagReqOne, Type: protocol.CmdBlockStatus, Cookie: 1, Offset: 1 << 20, Length: 1 << 40}, true)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	b.ResetTimer()
	if err := decodeRequestLoop(wire, true, b.N); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAppendSimpleReply(b *testing.B) {
	buf := make([]byte, 0, protocol.SimpleReplySize)
	b.ReportAllocs()
	b.SetBytes(protocol.SimpleReplySize)
	for i := range b.N {
		buf = protocol.AppendSimpleReply(buf[:0], protocol.EIO, uint64(i))
	}
	if len(buf) != protocol.SimpleReplySize {
		b.Fatalf("wrote %d bytes", len(buf))
	}
}

func BenchmarkAppendChunkHeader(b *testing.B) {
	for _, ext := range []bool{false, true} {
		name, size := "structured", protocol.StructuredReplySize
		if ext {
			name, size = "extended", protocol.ExtendedReplySize
		}
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for i := range b.N {
				buf = protocol.AppendChunkHeader(buf[:0], ext, protocol.ReplyFlagDone, protocol.ReplyTypeOffsetData, uint64(i), 4096, 4096+8)
			}
			if len(buf) != size {
				b.Fatalf("wrote %d bytes", len(buf))
			}
		})
	}
}

// BenchmarkAppendBlockDescriptors encodes a block status chunk of 64 descriptors.
func BenchmarkAppendBlockDescriptors(b *testing.B) {
	const n = 64
	ds := make([]protocol.BlockDescriptor, n)
	for i := range ds {
		ds[i] = protocol.BlockDescriptor{Length: 4096 * uint64(i+1), Flags: uint64(i % 4)}
	}
	for _, ext := range []bool{false, true} {
		name, size := "compact", 4+n*protocol.BlockDescriptorSize
		if ext {
			name, size = "extended", 8+n*protocol.BlockDescriptorExtSize
		}
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for range b.N {
				buf = protocol.AppendBlockStatusHeader(buf[:0], ext, 1, n)
				for _, d := range ds {
					buf = protocol.AppendBlockDescriptor(buf, ext, d)
				}
			}
			if len(buf) != size {
				b.Fatalf("wrote %d bytes, want %d", len(buf), size)
			}
		})
	}
}

func BenchmarkDecodeReplyHeader(b *testing.B) {
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"simple", protocol.AppendSimpleReply(nil, 0, 1)},
		{"structured", protocol.AppendChunkHeader(nil, false, protocol.ReplyFlagDone, protocol.ReplyTypeOffsetData, 1, 0, 4096+8)},
		{"extended", protocol.AppendChunkHeader(nil, true, protocol.ReplyFlagDone, protocol.ReplyTypeOffsetData, 1, 4096, 4096+8)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var h protocol.ReplyHeader
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.wire)))
			for range b.N {
				if err := protocol.DecodeReplyHeader(tc.wire, protocol.DefaultMaxPayload+8, &h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeBlockStatus decodes a chunk of 64 descriptors into a reused slice.
func BenchmarkDecodeBlockStatus(b *testing.B) {
	ds := make([]protocol.BlockDescriptor, 64)
	for i := range ds {
		ds[i] = protocol.BlockDescriptor{Length: 4096, Flags: uint64(i % 4)}
	}
	for _, ext := range []bool{false, true} {
		name := "compact"
		if ext {
			name = "extended"
		}
		b.Run(name, func(b *testing.B) {
			wire := appendBlockStatus(nil, ext, 1, ds)
			out := make([]protocol.BlockDescriptor, 0, len(ds))
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for range b.N {
				var err error
				if _, out, err = protocol.DecodeBlockStatus(wire, ext, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
