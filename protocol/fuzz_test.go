package protocol_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// The fuzz targets check properties of every decoder: it never panics, it returns only the
// documented error kinds, what it accepts re-encodes to the same bytes (every message of this
// protocol has one encoding, except the few noted below), and the lengths it returns never
// exceed the caller's limit. Seed corpora are in testdata/fuzz/<target>.

var be = binary.BigEndian

func FuzzDecodeRequest(f *testing.F) {
	for _, ext := range []bool{false, true} {
		for _, r := range sampleRequests(ext) {
			f.Add(protocol.AppendRequest(nil, &r, ext), ext)
		}
	}
	f.Add([]byte{0x25, 0x60, 0x95, 0x13}, false)
	f.Fuzz(func(t *testing.T, data []byte, ext bool) {
		// Junk in r shows that every field is overwritten.
		r := protocol.Request{Flags: 0xffff, Type: 0xffff, Cookie: 1, Offset: 2, Length: math.MaxUint64}
		err := protocol.DecodeRequest(data, ext, &r)
		n := protocol.RequestSize(ext)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= n {
				t.Fatalf("short error for %d bytes (header %d)", len(data), n)
			}
			return
		case kindFormat:
			if len(data) < n {
				t.Fatalf("format error for a short header of %d bytes", len(data))
			}
			return
		case kindTooLarge:
			t.Fatalf("DecodeRequest has no limit, but: %v", err)
		}
		if got := protocol.AppendRequest(nil, &r, ext); !bytes.Equal(got, data[:n]) {
			t.Fatalf("re-encoded %+v as\n%x, decoded from\n%x", r, got, data[:n])
		}
		if !ext && r.Length > math.MaxUint32 {
			t.Fatalf("compact request with length %d", r.Length)
		}
	})
}

func FuzzDecodeOptionHeader(f *testing.F) {
	f.Add(protocol.AppendOptionHeader(nil, protocol.OptGo, 12), uint32(4096))
	f.Add(protocol.AppendOptionHeader(nil, protocol.OptExportName, 0), uint32(0))
	f.Add(protocol.AppendOptionHeader(nil, protocol.OptList, 1<<30), uint32(65536))
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		h, err := protocol.DecodeOptionHeader(data, limit)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= protocol.OptionHeaderSize {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindFormat:
			return
		case kindTooLarge:
			if n := be.Uint32(data[12:]); n <= limit {
				t.Fatalf("too-large error for length %d under limit %d: %v", n, limit, err)
			}
			return
		}
		if h.Length > limit {
			t.Fatalf("accepted length %d over limit %d", h.Length, limit)
		}
		if got := protocol.AppendOptionHeader(nil, h.Opt, h.Length); !bytes.Equal(got, data[:protocol.OptionHeaderSize]) {
			t.Fatalf("re-encoded %+v as %x, decoded from %x", h, got, data)
		}
	})
}

func FuzzDecodeOptionReplyHeader(f *testing.F) {
	f.Add(protocol.AppendOptionReplyHeader(nil, protocol.OptGo, protocol.RepInfo, 14), uint32(4096))
	f.Add(protocol.AppendOptionReplyHeader(nil, protocol.OptList, protocol.RepAck, 0), uint32(0))
	f.Add(protocol.AppendOptionReplyHeader(nil, protocol.OptInfo, protocol.RepErrUnknown, 1<<31), uint32(1<<20))
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		h, err := protocol.DecodeOptionReplyHeader(data, limit)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= protocol.OptionReplyHeaderSize {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindFormat:
			return
		case kindTooLarge:
			if n := be.Uint32(data[16:]); n <= limit {
				t.Fatalf("too-large error for length %d under limit %d: %v", n, limit, err)
			}
			return
		}
		if h.Length > limit {
			t.Fatalf("accepted length %d over limit %d", h.Length, limit)
		}
		if got := protocol.AppendOptionReplyHeader(nil, h.Opt, h.Type, h.Length); !bytes.Equal(got, data[:protocol.OptionReplyHeaderSize]) {
			t.Fatalf("re-encoded %+v as %x, decoded from %x", h, got, data)
		}
	})
}

func FuzzDecodeInfoRequest(f *testing.F) {
	for _, r := range sampleInfoRequests() {
		f.Add(protocol.AppendInfoRequest(nil, r), uint32(protocol.MaxStringLength))
	}
	f.Add(protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "longer than three"}), uint32(3))
	f.Fuzz(func(t *testing.T, data []byte, maxName uint32) {
		r, err := protocol.DecodeInfoRequest(data, maxName)
		switch documentedErr(t, err) {
		case kindShort:
			t.Fatalf("DecodeInfoRequest documents no short error: %v", err)
		case kindTooLarge:
			if n := be.Uint32(data); n <= maxName {
				t.Fatalf("too-large error for a name of %d bytes, limit %d", n, maxName)
			}
			return
		case kindFormat:
			return
		}
		if uint64(len(r.Name)) > uint64(maxName) {
			t.Fatalf("name of %d bytes accepted with limit %d", len(r.Name), maxName)
		}
		if got := protocol.AppendInfoRequest(nil, r); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %+v as\n%x, decoded from\n%x", r, got, data)
		}
	})
}

func FuzzDecodeMetaContextRequest(f *testing.F) {
	for _, r := range sampleMetaContextRequests() {
		f.Add(protocol.AppendMetaContextRequest(nil, r), uint32(protocol.MaxStringLength))
	}
	f.Add(hexBytes("00000000", "ffffffff", "00000000"), uint32(protocol.MaxStringLength))
	f.Fuzz(func(t *testing.T, data []byte, maxString uint32) {
		r, err := protocol.DecodeMetaContextRequest(data, maxString)
		switch documentedErr(t, err) {
		case kindShort:
			t.Fatalf("DecodeMetaContextRequest documents no short error: %v", err)
		case kindTooLarge, kindFormat:
			return
		}
		if uint64(len(r.Name)) > uint64(maxString) {
			t.Fatalf("name of %d bytes accepted with limit %d", len(r.Name), maxString)
		}
		for _, q := range r.Queries {
			if uint64(len(q)) > uint64(maxString) {
				t.Fatalf("query of %d bytes accepted with limit %d", len(q), maxString)
			}
		}
		// Every query takes 4 bytes at least: the slice must not be larger than that.
		if cap(r.Queries) > len(data)/4 {
			t.Fatalf("capacity %d for queries in %d bytes", cap(r.Queries), len(data))
		}
		if got := protocol.AppendMetaContextRequest(nil, r); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %+v as\n%x, decoded from\n%x", r, got, data)
		}
	})
}

func FuzzDecodeServerReply(f *testing.F) {
	f.Add(protocol.AppendServerReply(nil, "", ""))
	f.Add(protocol.AppendServerReply(nil, "disk0", "the first disk"))
	f.Add(protocol.AppendServerReply(nil, "name only", ""))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, desc, err := protocol.DecodeServerReply(data)
		switch documentedErr(t, err) {
		case kindNone:
		case kindFormat:
			return
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if got := protocol.AppendServerReply(nil, name, desc); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %q, %q as %x, decoded from %x", name, desc, got, data)
		}
	})
}

func FuzzDecodeInfoReply(f *testing.F) {
	for _, c := range infoReplyCases() {
		f.Add(c.wire)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := protocol.DecodeInfoReply(data)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= 2 {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindFormat:
			return
		case kindTooLarge:
			t.Fatalf("DecodeInfoReply has no limit, but: %v", err)
		}
		var got []byte
		switch r.Type {
		case protocol.InfoExport:
			got = protocol.AppendInfoExport(nil, r.Size, r.Flags)
		case protocol.InfoName:
			got = protocol.AppendInfoString(nil, r.Type, r.Name)
		case protocol.InfoDescription:
			got = protocol.AppendInfoString(nil, r.Type, r.Description)
		case protocol.InfoBlockSize:
			got = protocol.AppendInfoBlockSize(nil, r.BlockSize)
		default:
			if !reflect.DeepEqual(r, protocol.InfoReply{Type: r.Type}) {
				t.Fatalf("unknown type decoded with more than its type: %+v", r)
			}
			return
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %+v as %x, decoded from %x", r, got, data)
		}
		// Only the fields of the type are set.
		want := protocol.InfoReply{Type: r.Type}
		switch r.Type {
		case protocol.InfoExport:
			want.Size, want.Flags = r.Size, r.Flags
		case protocol.InfoName:
			want.Name = r.Name
		case protocol.InfoDescription:
			want.Description = r.Description
		case protocol.InfoBlockSize:
			want.BlockSize = r.BlockSize
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("fields of other types set: %+v", r)
		}
	})
}

func FuzzDecodeMetaContextReply(f *testing.F) {
	f.Add(protocol.AppendMetaContextReply(nil, 1, protocol.MetaContextBaseAllocation))
	f.Add(protocol.AppendMetaContextReply(nil, 0, ""))
	f.Add(protocol.AppendMetaContextReply(nil, math.MaxUint32, "qemu:dirty-bitmap:b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, name, err := protocol.DecodeMetaContextReply(data)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= 4 {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindNone:
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if got := protocol.AppendMetaContextReply(nil, id, name); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %d, %q as %x, decoded from %x", id, name, got, data)
		}
	})
}

func FuzzDecodeReplyHeader(f *testing.F) {
	f.Add(protocol.AppendSimpleReply(nil, 0, 7), uint64(0))
	f.Add(protocol.AppendSimpleReply(nil, protocol.EIO, math.MaxUint64), uint64(0))
	for _, ext := range []bool{false, true} {
		f.Add(protocol.AppendChunkHeader(nil, ext, protocol.ReplyFlagDone, protocol.ReplyTypeNone, 1, 4096, 0), uint64(0))
		f.Add(protocol.AppendChunkHeader(nil, ext, 0, protocol.ReplyTypeOffsetData, 2, 0, 8+512), uint64(protocol.DefaultMaxPayload))
		f.Add(protocol.AppendChunkHeader(nil, ext, 0, protocol.ReplyTypeOffsetHole, 3, 1<<40, 12), uint64(12))
		f.Add(protocol.AppendChunkHeader(nil, ext, protocol.ReplyFlagDone, protocol.ReplyTypeError, 4, 0, 1<<31), uint64(1<<20))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint64) {
		// Junk in h shows that every field is overwritten.
		h := protocol.ReplyHeader{Magic: 1, Errno: 2, Flags: 3, Type: 4, Cookie: 5, Offset: 6, Length: 7}
		err := protocol.DecodeReplyHeader(data, limit, &h)
		var n int
		if len(data) >= 4 {
			n = protocol.ReplyHeaderSize(be.Uint32(data))
		}
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= 4 && (n == 0 || len(data) >= n) {
				t.Fatalf("short error for %d bytes, header %d", len(data), n)
			}
			return
		case kindFormat:
			if n != 0 {
				t.Fatalf("format error for a known magic: %v", err)
			}
			return
		case kindTooLarge:
			if h.Length <= limit {
				t.Fatalf("too-large error for length %d under limit %d", h.Length, limit)
			}
			return
		}
		if h.Length > limit {
			t.Fatalf("accepted length %d over limit %d", h.Length, limit)
		}
		var got []byte
		switch h.Magic {
		case protocol.SimpleReplyMagic:
			if h.Type != 0 || h.Offset != 0 || h.Length != 0 || h.Flags != protocol.ReplyFlagDone {
				t.Fatalf("simple reply with structured fields: %+v", h)
			}
			got = protocol.AppendSimpleReply(nil, h.Errno, h.Cookie)
		case protocol.StructuredReplyMagic, protocol.ExtendedReplyMagic:
			ext := h.Magic == protocol.ExtendedReplyMagic
			if h.Errno != 0 || (!ext && (h.Offset != 0 || h.Length > math.MaxUint32)) {
				t.Fatalf("chunk header with fields of another kind: %+v", h)
			}
			got = protocol.AppendChunkHeader(nil, ext, h.Flags, h.Type, h.Cookie, h.Offset, h.Length)
		default:
			t.Fatalf("decoded unknown magic %#x", h.Magic)
		}
		if !bytes.Equal(got, data[:n]) {
			t.Fatalf("re-encoded %+v as\n%x, decoded from\n%x", h, got, data[:n])
		}
	})
}

func FuzzDecodeBlockStatus(f *testing.F) {
	for _, ext := range []bool{false, true} {
		f.Add(appendBlockStatus(nil, ext, 1, []protocol.BlockDescriptor{{Length: 4096, Flags: 3}}), ext)
		f.Add(appendBlockStatus(nil, ext, 2, []protocol.BlockDescriptor{{Length: 512, Flags: 0}, {Length: 1 << 20, Flags: uint64(protocol.StateHole | protocol.StateZero)}}), ext)
	}
	f.Add(appendBlockStatus(nil, true, 3, []protocol.BlockDescriptor{{Length: 1 << 40, Flags: 1 << 33}}), true)
	f.Fuzz(func(t *testing.T, data []byte, ext bool) {
		prefix := []protocol.BlockDescriptor{{Length: 99, Flags: 98}}
		id, ds, err := protocol.DecodeBlockStatus(data, ext, prefix)
		switch documentedErr(t, err) {
		case kindNone:
		case kindFormat:
			return
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if len(ds) < 2 || ds[0] != prefix[0] {
			t.Fatalf("descriptors %v lost the prefix or are empty", ds)
		}
		ds = ds[1:]
		for _, d := range ds {
			if d.Length == 0 {
				t.Fatalf("descriptor of length zero accepted: %v", ds)
			}
			if !ext && (d.Length > math.MaxUint32 || d.Flags > math.MaxUint32) {
				t.Fatalf("compact descriptor with 64-bit fields: %+v", d)
			}
		}
		if got := appendBlockStatus(nil, ext, id, ds); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded id %d %v as\n%x, decoded from\n%x", id, ds, got, data)
		}
	})
}

func FuzzDecodeErrorChunk(f *testing.F) {
	for _, c := range errorChunkCases() {
		f.Add(uint16(c.typ), c.wire)
	}
	f.Add(uint16(protocol.ReplyTypeError|0x40), hexBytes("00000005", "0002", "6869", "ffff"))
	f.Fuzz(func(t *testing.T, typ uint16, data []byte) {
		rt := protocol.ReplyType(typ)
		c, err := protocol.DecodeErrorChunk(rt, data)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= 6 {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindFormat:
			return
		case kindTooLarge:
			t.Fatalf("DecodeErrorChunk has no limit, but: %v", err)
		}
		if c.Errno == 0 {
			t.Fatalf("error chunk with errno zero accepted")
		}
		if c.HasOffset != (rt == protocol.ReplyTypeErrorOffset) {
			t.Fatalf("HasOffset %v for type %v", c.HasOffset, rt)
		}
		if !c.HasOffset && c.Offset != 0 {
			t.Fatalf("offset %d without HasOffset", c.Offset)
		}
		got := protocol.AppendErrorChunk(nil, c.Errno, c.Message, c.HasOffset, c.Offset)
		if len(got) != protocol.ErrorChunkSize(len(c.Message), c.HasOffset) {
			t.Fatalf("ErrorChunkSize(%d, %v) = %d, but AppendErrorChunk wrote %d bytes",
				len(c.Message), c.HasOffset, protocol.ErrorChunkSize(len(c.Message), c.HasOffset), len(got))
		}
		if len(c.Message) > protocol.MaxStringLength {
			// The encoder cuts long messages (the spec forbids them): the rest must survive.
			c2, err := protocol.DecodeErrorChunk(rt, got)
			want := c
			want.Message = c.Message[:protocol.MaxStringLength]
			if err != nil || c2 != want {
				t.Fatalf("re-encoded %+v decodes to %+v, %v", c, c2, err)
			}
			return
		}
		// An ERROR_OFFSET chunk is exact; other error types may carry trailing fields
		// the decoder does not know.
		want := data
		if !c.HasOffset {
			want = data[:6+len(c.Message)]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("re-encoded %+v as\n%x, decoded from\n%x", c, got, data)
		}
	})
}

func FuzzDecodeOffsetHole(f *testing.F) {
	f.Add(protocol.AppendOffsetHole(nil, 0, 1))
	f.Add(protocol.AppendOffsetHole(nil, 1<<40, 65536))
	f.Add(protocol.AppendOffsetHole(nil, math.MaxUint64, math.MaxUint32))
	f.Fuzz(func(t *testing.T, data []byte) {
		off, size, err := protocol.DecodeOffsetHole(data)
		switch documentedErr(t, err) {
		case kindNone:
		case kindFormat:
			return
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if size == 0 {
			t.Fatalf("hole of size zero accepted")
		}
		if got := protocol.AppendOffsetHole(nil, off, size); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %d+%d as %x, decoded from %x", off, size, got, data)
		}
	})
}

func FuzzDecodeBlockStatusPayload(f *testing.F) {
	f.Add(protocol.AppendBlockStatusPayload(nil, 1<<40, []uint32{1}))
	f.Add(protocol.AppendBlockStatusPayload(nil, 4096, []uint32{1, 2, 3}))
	f.Add(protocol.AppendBlockStatusPayload(nil, 0, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		prefix := []uint32{77}
		length, ids, err := protocol.DecodeBlockStatusPayload(data, prefix)
		switch documentedErr(t, err) {
		case kindNone:
		case kindFormat:
			return
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if len(ids) < 1 || ids[0] != 77 {
			t.Fatalf("ids %v lost the prefix", ids)
		}
		if got := protocol.AppendBlockStatusPayload(nil, length, ids[1:]); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded %d %v as %x, decoded from %x", length, ids[1:], got, data)
		}
	})
}

// FuzzDecodeGreeting checks the three greeting decoders against each other.
func FuzzDecodeGreeting(f *testing.F) {
	f.Add(protocol.AppendOldstyleGreeting(nil, 1<<30, 0, protocol.FlagHasFlags|protocol.FlagSendFlush))
	f.Add(protocol.AppendNewstyleGreeting(nil, protocol.HandshakeFixedNewstyle|protocol.HandshakeNoZeroes))
	f.Add(protocol.AppendNewstyleGreeting(nil, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		old, startErr := protocol.DecodeGreetingStart(data)
		switch documentedErr(t, startErr) {
		case kindShort:
			if len(data) >= 16 {
				t.Fatalf("short error for %d bytes", len(data))
			}
		case kindTooLarge:
			t.Fatalf("no limit, but: %v", startErr)
		}

		hf, newErr := protocol.DecodeNewstyleGreeting(data)
		documentedErr(t, newErr)
		if newErr == nil {
			if startErr != nil || old {
				t.Fatalf("newstyle greeting accepted, but the start says old=%v, %v", old, startErr)
			}
			if got := protocol.AppendNewstyleGreeting(nil, hf); !bytes.Equal(got, data[:protocol.NewstyleGreetingSize]) {
				t.Fatalf("re-encoded %#x as %x, decoded from %x", hf, got, data)
			}
		} else if startErr == nil && !old && len(data) >= protocol.NewstyleGreetingSize {
			t.Fatalf("valid newstyle start refused: %v", newErr)
		}

		g, oldErr := protocol.DecodeOldstyleGreeting(data)
		documentedErr(t, oldErr)
		if oldErr == nil {
			if startErr != nil || !old {
				t.Fatalf("oldstyle greeting accepted, but the start says old=%v, %v", old, startErr)
			}
			// The encoding is canonical up to the global flags, which are not decoded, and
			// the reserved zeroes, which are not checked.
			gflags := be.Uint16(data[24:])
			got := protocol.AppendOldstyleGreeting(nil, g.Size, gflags, g.Flags)
			if !bytes.Equal(got[:28], data[:28]) {
				t.Fatalf("re-encoded %+v as %x, decoded from %x", g, got[:28], data[:28])
			}
			if g2, err := protocol.DecodeOldstyleGreeting(got); err != nil || g2 != g {
				t.Fatalf("re-encoded %+v decodes to %+v, %v", g, g2, err)
			}
		} else if startErr == nil && old && len(data) >= protocol.OldstyleGreetingSize {
			t.Fatalf("valid oldstyle start refused: %v", oldErr)
		}
	})
}

func FuzzDecodeExportNameReply(f *testing.F) {
	f.Add(protocol.AppendExportNameReply(nil, 1<<30, protocol.FlagHasFlags, false))
	f.Add(protocol.AppendExportNameReply(nil, 0, protocol.FlagHasFlags|protocol.FlagReadOnly, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		size, flags, err := protocol.DecodeExportNameReply(data)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= protocol.ExportNameReplySize {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindNone:
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if got := protocol.AppendExportNameReply(nil, size, flags, true); !bytes.Equal(got, data[:protocol.ExportNameReplySize]) {
			t.Fatalf("re-encoded %d, %#x as %x, decoded from %x", size, flags, got, data)
		}
	})
}

func FuzzDecodeClientFlags(f *testing.F) {
	f.Add(protocol.AppendClientFlags(nil, protocol.ClientFixedNewstyle|protocol.ClientNoZeroes))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := protocol.DecodeClientFlags(data)
		switch documentedErr(t, err) {
		case kindShort:
			if len(data) >= 4 {
				t.Fatalf("short error for %d bytes", len(data))
			}
			return
		case kindNone:
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if got := protocol.AppendClientFlags(nil, cf); !bytes.Equal(got, data[:4]) {
			t.Fatalf("re-encoded %#x as %x, decoded from %x", cf, got, data)
		}
	})
}
