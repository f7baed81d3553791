package protocol_test

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// Sample messages, shared by the round-trip tests, the fuzz seeds and the benchmarks.

var allCmds = []protocol.Cmd{
	protocol.CmdRead, protocol.CmdWrite, protocol.CmdDisc, protocol.CmdFlush, protocol.CmdTrim,
	protocol.CmdCache, protocol.CmdWriteZeroes, protocol.CmdBlockStatus, protocol.CmdResize,
}

var allCmdFlags = []protocol.CmdFlags{
	0, protocol.CmdFlagFUA, protocol.CmdFlagNoHole, protocol.CmdFlagDF, protocol.CmdFlagReqOne,
	protocol.CmdFlagFastZero, protocol.CmdFlagPayloadLen,
	protocol.CmdFlagFUA | protocol.CmdFlagNoHole | protocol.CmdFlagFastZero, 0xffff,
}

// sampleRequests returns every command with every flag, with lengths that need the width
// of the header kind.
func sampleRequests(ext bool) []protocol.Request {
	var rs []protocol.Request
	for i, c := range allCmds {
		for j, fl := range allCmdFlags {
			r := protocol.Request{
				Flags:  fl,
				Type:   c,
				Cookie: uint64(i)<<32 | uint64(j) | 0x8000000000000000,
				Offset: uint64(j) << 40,
				Length: uint64(i+1) * 512,
			}
			if j%3 == 0 {
				r.Length = math.MaxUint32
			}
			if ext && j%2 == 1 {
				r.Length = 1<<40 + uint64(i)
			}
			rs = append(rs, r)
		}
	}
	rs = append(rs, protocol.Request{}, protocol.Request{Type: 0xffff, Cookie: math.MaxUint64, Offset: math.MaxUint64})
	if ext {
		rs = append(rs, protocol.Request{Type: protocol.CmdTrim, Length: math.MaxUint64})
	}
	return rs
}

func sampleInfoRequests() []protocol.InfoRequest {
	return []protocol.InfoRequest{
		{Name: "", Infos: []protocol.Info{}},
		{Name: "disk", Infos: []protocol.Info{protocol.InfoBlockSize}},
		{Name: "exportname with spaces/and/slashes", Infos: []protocol.Info{
			protocol.InfoExport, protocol.InfoName, protocol.InfoDescription, protocol.InfoBlockSize, 0xffff}},
		{Name: "ünïcödé", Infos: []protocol.Info{protocol.InfoName}},
		{Name: strings.Repeat("n", protocol.MaxStringLength), Infos: []protocol.Info{}},
	}
}

func sampleMetaContextRequests() []protocol.MetaContextRequest {
	return []protocol.MetaContextRequest{
		{Name: "", Queries: []string{}},
		{Name: "disk", Queries: []string{protocol.MetaContextBaseAllocation}},
		{Name: "disk", Queries: []string{protocol.MetaNamespaceBase, "qemu:dirty-bitmap:", ""}},
		{Name: strings.Repeat("x", protocol.MaxStringLength), Queries: []string{strings.Repeat("q", protocol.MaxStringLength)}},
	}
}

// appendBlockStatus appends a whole block status payload.
func appendBlockStatus(b []byte, ext bool, id uint32, ds []protocol.BlockDescriptor) []byte {
	b = protocol.AppendBlockStatusHeader(b, ext, id, uint32(len(ds)))
	for _, d := range ds {
		b = protocol.AppendBlockDescriptor(b, ext, d)
	}
	return b
}

type infoReplyCase struct {
	name string
	want protocol.InfoReply
	wire []byte
}

func infoReplyCases() []infoReplyCase {
	bs := protocol.BlockSizeInfo{Minimum: 512, Preferred: 4096, Maximum: 32 << 20}
	return []infoReplyCase{
		{"export", protocol.InfoReply{Type: protocol.InfoExport, Size: 1 << 40, Flags: protocol.FlagHasFlags | protocol.FlagSendFlush | protocol.FlagSendFUA},
			protocol.AppendInfoExport(nil, 1<<40, protocol.FlagHasFlags|protocol.FlagSendFlush|protocol.FlagSendFUA)},
		{"export max", protocol.InfoReply{Type: protocol.InfoExport, Size: math.MaxUint64, Flags: 0xffff},
			protocol.AppendInfoExport(nil, math.MaxUint64, 0xffff)},
		{"name", protocol.InfoReply{Type: protocol.InfoName, Name: "canonical"},
			protocol.AppendInfoString(nil, protocol.InfoName, "canonical")},
		{"empty name", protocol.InfoReply{Type: protocol.InfoName},
			protocol.AppendInfoString(nil, protocol.InfoName, "")},
		{"description", protocol.InfoReply{Type: protocol.InfoDescription, Description: "a disk for tests"},
			protocol.AppendInfoString(nil, protocol.InfoDescription, "a disk for tests")},
		{"block size", protocol.InfoReply{Type: protocol.InfoBlockSize, BlockSize: bs},
			protocol.AppendInfoBlockSize(nil, bs)},
		{"block size no limit", protocol.InfoReply{Type: protocol.InfoBlockSize, BlockSize: protocol.BlockSizeInfo{Minimum: 1, Preferred: 4096, Maximum: math.MaxUint32}},
			protocol.AppendInfoBlockSize(nil, protocol.BlockSizeInfo{Minimum: 1, Preferred: 4096, Maximum: math.MaxUint32})},
		// Unknown types are returned with their type alone, whatever their payload.
		{"unknown", protocol.InfoReply{Type: 4}, hexBytes("0004", "0102030405")},
		{"unknown empty", protocol.InfoReply{Type: 0xffff}, hexBytes("ffff")},
	}
}

type errorChunkCase struct {
	name string
	typ  protocol.ReplyType
	want protocol.ErrorChunk
	wire []byte
}

func errorChunkCases() []errorChunkCase {
	return []errorChunkCase{
		{"error", protocol.ReplyTypeError, protocol.ErrorChunk{Errno: protocol.EIO, Message: "read failed"},
			protocol.AppendErrorChunk(nil, protocol.EIO, "read failed", false, 0)},
		{"error no message", protocol.ReplyTypeError, protocol.ErrorChunk{Errno: protocol.EPERM},
			protocol.AppendErrorChunk(nil, protocol.EPERM, "", false, 0)},
		{"error offset", protocol.ReplyTypeErrorOffset, protocol.ErrorChunk{Errno: protocol.ENOSPC, Message: "full", HasOffset: true, Offset: 1 << 33},
			protocol.AppendErrorChunk(nil, protocol.ENOSPC, "full", true, 1<<33)},
		{"error offset no message", protocol.ReplyTypeErrorOffset, protocol.ErrorChunk{Errno: protocol.EINVAL, HasOffset: true, Offset: math.MaxUint64},
			protocol.AppendErrorChunk(nil, protocol.EINVAL, "", true, math.MaxUint64)},
		{"error longest message", protocol.ReplyTypeError, protocol.ErrorChunk{Errno: protocol.ESHUTDOWN, Message: strings.Repeat("m", protocol.MaxStringLength)},
			protocol.AppendErrorChunk(nil, protocol.ESHUTDOWN, strings.Repeat("m", protocol.MaxStringLength), false, 0)},
		// Undefined errno values are carried as they are.
		{"undefined errno", protocol.ReplyTypeError, protocol.ErrorChunk{Errno: 0xdeadbeef, Message: "?"},
			protocol.AppendErrorChunk(nil, 0xdeadbeef, "?", false, 0)},
		// An unknown error type is decoded as far as the common part goes.
		{"unknown error type", protocol.ReplyTypeError + 0x10, protocol.ErrorChunk{Errno: protocol.EIO, Message: "x"},
			append(protocol.AppendErrorChunk(nil, protocol.EIO, "x", false, 0), 1, 2, 3)},
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, ext := range []bool{false, true} {
		for _, r := range sampleRequests(ext) {
			name := fmt.Sprintf("ext=%v/%v/flags=%#x/len=%d", ext, r.Type, r.Flags, r.Length)
			t.Run(name, func(t *testing.T) {
				b := protocol.AppendRequest([]byte("prefix"), &r, ext)
				if !bytes.HasPrefix(b, []byte("prefix")) {
					t.Fatalf("AppendRequest clobbered the buffer: %x", b)
				}
				b = b[len("prefix"):]
				if len(b) != protocol.RequestSize(ext) {
					t.Fatalf("encoded %d bytes, RequestSize(%v) = %d", len(b), ext, protocol.RequestSize(ext))
				}
				var got protocol.Request
				if err := protocol.DecodeRequest(b, ext, &got); err != nil {
					t.Fatalf("DecodeRequest(%x): %v", b, err)
				}
				if got != r {
					t.Fatalf("round trip of %+v gave %+v", r, got)
				}
			})
		}
	}
}

func TestRequestCompactKeepsLow32Bits(t *testing.T) {
	r := protocol.Request{Type: protocol.CmdRead, Length: 1<<32 + 5}
	var got protocol.Request
	if err := protocol.DecodeRequest(protocol.AppendRequest(nil, &r, false), false, &got); err != nil {
		t.Fatal(err)
	}
	if got.Length != 5 {
		t.Fatalf("compact length %d encoded as %d, want the low 32 bits (5)", r.Length, got.Length)
	}
}

func TestRequestHasPayload(t *testing.T) {
	for _, c := range allCmds {
		for _, fl := range allCmdFlags {
			r := protocol.Request{Type: c, Flags: fl}
			if got, want := r.HasPayload(false), c == protocol.CmdWrite; got != want {
				t.Errorf("compact %v flags %#x: HasPayload = %v, want %v", c, fl, got, want)
			}
			// Extended writes carry a payload even without CmdFlagPayloadLen (qemu omits it).
			if got, want := r.HasPayload(true), c == protocol.CmdWrite || fl&protocol.CmdFlagPayloadLen != 0; got != want {
				t.Errorf("extended %v flags %#x: HasPayload = %v, want %v", c, fl, got, want)
			}
		}
	}
}

func TestBlockStatusPayloadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		length uint64
		ids    []uint32
	}{
		{0, nil},
		{4096, []uint32{1}},
		{1 << 40, []uint32{1, 2, math.MaxUint32}},
		{math.MaxUint64, []uint32{0}},
	} {
		p := protocol.AppendBlockStatusPayload(nil, tc.length, tc.ids)
		if want := 8 + 4*len(tc.ids); len(p) != want {
			t.Fatalf("payload of %d ids is %d bytes, want %d", len(tc.ids), len(p), want)
		}
		length, ids, err := protocol.DecodeBlockStatusPayload(p, []uint32{42})
		if err != nil {
			t.Fatalf("DecodeBlockStatusPayload(%x): %v", p, err)
		}
		if length != tc.length || !reflect.DeepEqual(ids, append([]uint32{42}, tc.ids...)) {
			t.Fatalf("round trip of %d %v gave %d %v", tc.length, tc.ids, length, ids)
		}
	}
}

func TestHandshakeRoundTrip(t *testing.T) {
	t.Run("oldstyle", func(t *testing.T) {
		for _, tc := range []protocol.OldstyleGreeting{
			{Size: 0, Flags: protocol.FlagHasFlags},
			{Size: 1 << 40, Flags: protocol.FlagHasFlags | protocol.FlagReadOnly | protocol.FlagSendFlush},
			{Size: math.MaxUint64, Flags: 0xffff},
		} {
			b := protocol.AppendOldstyleGreeting(nil, tc.Size, 0, tc.Flags)
			if len(b) != protocol.OldstyleGreetingSize {
				t.Fatalf("oldstyle greeting of %d bytes, want %d", len(b), protocol.OldstyleGreetingSize)
			}
			old, err := protocol.DecodeGreetingStart(b)
			if err != nil || !old {
				t.Fatalf("DecodeGreetingStart = %v, %v; want oldstyle", old, err)
			}
			got, err := protocol.DecodeOldstyleGreeting(b)
			if err != nil || got != tc {
				t.Fatalf("round trip of %+v gave %+v, %v", tc, got, err)
			}
		}
	})
	t.Run("newstyle", func(t *testing.T) {
		for _, hf := range []protocol.HandshakeFlags{0, protocol.HandshakeFixedNewstyle, protocol.HandshakeFixedNewstyle | protocol.HandshakeNoZeroes, 0xffff} {
			b := protocol.AppendNewstyleGreeting(nil, hf)
			if len(b) != protocol.NewstyleGreetingSize {
				t.Fatalf("newstyle greeting of %d bytes, want %d", len(b), protocol.NewstyleGreetingSize)
			}
			old, err := protocol.DecodeGreetingStart(b)
			if err != nil || old {
				t.Fatalf("DecodeGreetingStart = %v, %v; want newstyle", old, err)
			}
			got, err := protocol.DecodeNewstyleGreeting(b)
			if err != nil || got != hf {
				t.Fatalf("round trip of %#x gave %#x, %v", hf, got, err)
			}
		}
	})
	t.Run("client flags", func(t *testing.T) {
		for _, cf := range []protocol.ClientFlags{0, protocol.ClientFixedNewstyle, protocol.ClientFixedNewstyle | protocol.ClientNoZeroes, math.MaxUint32} {
			b := protocol.AppendClientFlags(nil, cf)
			got, err := protocol.DecodeClientFlags(b)
			if len(b) != 4 || err != nil || got != cf {
				t.Fatalf("round trip of %#x through %x gave %#x, %v", cf, b, got, err)
			}
		}
	})
	t.Run("export name reply", func(t *testing.T) {
		for _, noZeroes := range []bool{false, true} {
			for _, size := range []uint64{0, 1 << 30, math.MaxUint64} {
				flags := protocol.FlagHasFlags | protocol.FlagSendTrim
				b := protocol.AppendExportNameReply(nil, size, flags, noZeroes)
				want := protocol.ExportNameReplySize
				if !noZeroes {
					want += protocol.ExportNameReplyZeroes
				}
				if len(b) != want {
					t.Fatalf("noZeroes=%v: %d bytes, want %d", noZeroes, len(b), want)
				}
				if !bytes.Equal(b[protocol.ExportNameReplySize:], make([]byte, len(b)-protocol.ExportNameReplySize)) {
					t.Fatalf("reserved bytes not zero: %x", b[protocol.ExportNameReplySize:])
				}
				gs, gf, err := protocol.DecodeExportNameReply(b)
				if err != nil || gs != size || gf != flags {
					t.Fatalf("round trip of %d, %#x gave %d, %#x, %v", size, flags, gs, gf, err)
				}
			}
		}
	})
}

func TestOptionHeaderRoundTrip(t *testing.T) {
	for _, tc := range []protocol.OptionHeader{
		{Opt: protocol.OptExportName, Length: 0},
		{Opt: protocol.OptGo, Length: 4 + 4 + 2 + 2},
		{Opt: protocol.OptExtendedHeaders, Length: 0},
		{Opt: 0xffffffff, Length: math.MaxUint32},
	} {
		b := protocol.AppendOptionHeader(nil, tc.Opt, tc.Length)
		if len(b) != protocol.OptionHeaderSize {
			t.Fatalf("option header of %d bytes", len(b))
		}
		got, err := protocol.DecodeOptionHeader(b, math.MaxUint32)
		if err != nil || got != tc {
			t.Fatalf("round trip of %+v gave %+v, %v", tc, got, err)
		}
		// The limit is inclusive.
		if _, err := protocol.DecodeOptionHeader(b, tc.Length); err != nil {
			t.Fatalf("length %d refused at a limit of the same value: %v", tc.Length, err)
		}
	}
}

func TestOptionReplyHeaderRoundTrip(t *testing.T) {
	for _, tc := range []protocol.OptionReplyHeader{
		{Opt: protocol.OptList, Type: protocol.RepServer, Length: 12},
		{Opt: protocol.OptGo, Type: protocol.RepAck, Length: 0},
		{Opt: protocol.OptStartTLS, Type: protocol.RepErrPolicy, Length: 20},
		{Opt: protocol.OptSetMetaContext, Type: protocol.RepErrExtHeaderReqd, Length: math.MaxUint32},
	} {
		b := protocol.AppendOptionReplyHeader(nil, tc.Opt, tc.Type, tc.Length)
		if len(b) != protocol.OptionReplyHeaderSize {
			t.Fatalf("option reply header of %d bytes", len(b))
		}
		got, err := protocol.DecodeOptionReplyHeader(b, tc.Length)
		if err != nil || got != tc {
			t.Fatalf("round trip of %+v gave %+v, %v", tc, got, err)
		}
	}
}

func TestInfoRequestRoundTrip(t *testing.T) {
	for _, r := range sampleInfoRequests() {
		t.Run(fmt.Sprintf("%.10q/%d", r.Name, len(r.Infos)), func(t *testing.T) {
			b := protocol.AppendInfoRequest(nil, r)
			if want := 4 + len(r.Name) + 2 + 2*len(r.Infos); len(b) != want {
				t.Fatalf("%d bytes, want %d", len(b), want)
			}
			got, err := protocol.DecodeInfoRequest(b, uint32(len(r.Name)))
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip of %+v gave %+v, %v", r, got, err)
			}
		})
	}
}

func TestMetaContextRequestRoundTrip(t *testing.T) {
	for _, r := range sampleMetaContextRequests() {
		t.Run(fmt.Sprintf("%.10q/%d", r.Name, len(r.Queries)), func(t *testing.T) {
			b := protocol.AppendMetaContextRequest(nil, r)
			got, err := protocol.DecodeMetaContextRequest(b, protocol.MaxStringLength)
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip of %.40q gave %.40q, %v", r, got, err)
			}
		})
	}
}

func TestServerReplyRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, desc string }{
		{"", ""}, {"disk", ""}, {"", "description only"}, {"disk", "a description with \x00 bytes"},
	} {
		b := protocol.AppendServerReply(nil, tc.name, tc.desc)
		name, desc, err := protocol.DecodeServerReply(b)
		if err != nil || name != tc.name || desc != tc.desc {
			t.Fatalf("round trip of %q, %q gave %q, %q, %v", tc.name, tc.desc, name, desc, err)
		}
	}
}

func TestInfoReplyRoundTrip(t *testing.T) {
	for _, tc := range infoReplyCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.DecodeInfoReply(tc.wire)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeInfoReply(%x) = %+v, %v; want %+v", tc.wire, got, err, tc.want)
			}
		})
	}
}

func TestMetaContextReplyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		id   uint32
		name string
	}{{0, ""}, {1, protocol.MetaContextBaseAllocation}, {math.MaxUint32, "qemu:dirty-bitmap:bitmap0"}} {
		b := protocol.AppendMetaContextReply(nil, tc.id, tc.name)
		id, name, err := protocol.DecodeMetaContextReply(b)
		if err != nil || id != tc.id || name != tc.name {
			t.Fatalf("round trip of %d, %q gave %d, %q, %v", tc.id, tc.name, id, name, err)
		}
	}
}

func TestReplyHeaderRoundTrip(t *testing.T) {
	type tc struct {
		name string
		wire []byte
		want protocol.ReplyHeader
	}
	cases := []tc{
		{"simple ok", protocol.AppendSimpleReply(nil, 0, 1),
			protocol.ReplyHeader{Magic: protocol.SimpleReplyMagic, Cookie: 1, Flags: protocol.ReplyFlagDone}},
		{"simple error", protocol.AppendSimpleReply(nil, protocol.ENOSPC, math.MaxUint64),
			protocol.ReplyHeader{Magic: protocol.SimpleReplyMagic, Errno: protocol.ENOSPC, Cookie: math.MaxUint64, Flags: protocol.ReplyFlagDone}},
	}
	types := []protocol.ReplyType{
		protocol.ReplyTypeNone, protocol.ReplyTypeOffsetData, protocol.ReplyTypeOffsetHole,
		protocol.ReplyTypeBlockStatus, protocol.ReplyTypeBlockStatusExt, protocol.ReplyTypeError,
		protocol.ReplyTypeErrorOffset, 0x7fff, 0xffff,
	}
	for _, ext := range []bool{false, true} {
		for i, rt := range types {
			for _, fl := range []protocol.ReplyFlags{0, protocol.ReplyFlagDone, 0xffff} {
				magic, offset, length := protocol.StructuredReplyMagic, uint64(0), uint64(math.MaxUint32-i)
				if ext {
					magic, offset, length = protocol.ExtendedReplyMagic, 1<<40+uint64(i), 1<<33+uint64(i)
				}
				cases = append(cases, tc{
					fmt.Sprintf("ext=%v/%v/flags=%#x", ext, rt, fl),
					protocol.AppendChunkHeader(nil, ext, fl, rt, uint64(i)<<56, offset, length),
					protocol.ReplyHeader{Magic: magic, Flags: fl, Type: rt, Cookie: uint64(i) << 56, Offset: offset, Length: length},
				})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := protocol.ReplyHeaderSize(c.want.Magic); got != len(c.wire) {
				t.Fatalf("encoded %d bytes, ReplyHeaderSize = %d", len(c.wire), got)
			}
			// Junk in h shows that every field is overwritten.
			h := protocol.ReplyHeader{Magic: 1, Errno: 2, Flags: 3, Type: 4, Cookie: 5, Offset: 6, Length: 7}
			if err := protocol.DecodeReplyHeader(c.wire, c.want.Length, &h); err != nil {
				t.Fatalf("DecodeReplyHeader(%x): %v", c.wire, err)
			}
			if h != c.want {
				t.Fatalf("DecodeReplyHeader(%x) = %+v, want %+v", c.wire, h, c.want)
			}
		})
	}
}

func TestOffsetDataRoundTrip(t *testing.T) {
	data := []byte("hello, block")
	for _, ext := range []bool{false, true} {
		b := protocol.AppendChunkHeader(nil, ext, protocol.ReplyFlagDone, protocol.ReplyTypeOffsetData, 9, 4096,
			uint64(protocol.OffsetDataHeaderSize+len(data)))
		b = protocol.AppendOffsetData(b, 4096+512)
		b = append(b, data...)
		var h protocol.ReplyHeader
		if err := protocol.DecodeReplyHeader(b, protocol.DefaultMaxPayload, &h); err != nil {
			t.Fatal(err)
		}
		p := b[protocol.ReplyHeaderSize(h.Magic):]
		if uint64(len(p)) != h.Length || h.Type != protocol.ReplyTypeOffsetData {
			t.Fatalf("ext=%v: header %+v for a payload of %d bytes", ext, h, len(p))
		}
		if off := be.Uint64(p); off != 4096+512 || !bytes.Equal(p[protocol.OffsetDataHeaderSize:], data) {
			t.Fatalf("ext=%v: payload %x", ext, p)
		}
	}
}

func TestOffsetHoleRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		off  uint64
		size uint32
	}{{0, 1}, {1 << 40, 1 << 20}, {math.MaxUint64, math.MaxUint32}} {
		b := protocol.AppendOffsetHole(nil, tc.off, tc.size)
		off, size, err := protocol.DecodeOffsetHole(b)
		if len(b) != 12 || err != nil || off != tc.off || size != tc.size {
			t.Fatalf("round trip of %d+%d through %x gave %d+%d, %v", tc.off, tc.size, b, off, size, err)
		}
	}
}

func TestBlockStatusRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  bool
		id   uint32
		ds   []protocol.BlockDescriptor
	}{
		{"compact one", false, 1, []protocol.BlockDescriptor{{Length: 4096, Flags: uint64(protocol.StateHole | protocol.StateZero)}}},
		{"compact many", false, math.MaxUint32, []protocol.BlockDescriptor{{Length: 512}, {Length: math.MaxUint32, Flags: math.MaxUint32}, {Length: 1, Flags: uint64(protocol.StateZero)}}},
		{"ext one", true, 2, []protocol.BlockDescriptor{{Length: 1 << 40, Flags: 1 << 40}}},
		{"ext many", true, 0, []protocol.BlockDescriptor{{Length: 512, Flags: uint64(protocol.StateHole)}, {Length: math.MaxUint64, Flags: math.MaxUint64}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := appendBlockStatus(nil, tc.ext, tc.id, tc.ds)
			head, size := 4, protocol.BlockDescriptorSize
			if tc.ext {
				head, size = 8, protocol.BlockDescriptorExtSize
			}
			if len(p) != head+size*len(tc.ds) {
				t.Fatalf("payload of %d bytes for %d descriptors", len(p), len(tc.ds))
			}
			prefix := []protocol.BlockDescriptor{{Length: 7, Flags: 7}}
			id, ds, err := protocol.DecodeBlockStatus(p, tc.ext, prefix)
			if err != nil {
				t.Fatalf("DecodeBlockStatus(%x): %v", p, err)
			}
			if id != tc.id || !reflect.DeepEqual(ds, append(prefix, tc.ds...)) {
				t.Fatalf("round trip of %d %v gave %d %v", tc.id, tc.ds, id, ds)
			}
		})
	}
}

func TestErrorChunkRoundTrip(t *testing.T) {
	for _, tc := range errorChunkCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.DecodeErrorChunk(tc.typ, tc.wire)
			if err != nil || got != tc.want {
				t.Fatalf("DecodeErrorChunk(%v, %.40x) = %+.40v, %v; want %+.40v", tc.typ, tc.wire, got, err, tc.want)
			}
			if !tc.typ.IsError() {
				t.Fatalf("%v is not an error type", tc.typ)
			}
		})
	}
}

func TestErrorChunkLongMessage(t *testing.T) {
	long := strings.Repeat("e", protocol.MaxStringLength+100)
	for _, hasOffset := range []bool{false, true} {
		b := protocol.AppendErrorChunk(nil, protocol.EIO, long, hasOffset, 77)
		if len(b) != protocol.ErrorChunkSize(len(long), hasOffset) {
			t.Fatalf("hasOffset=%v: %d bytes, ErrorChunkSize says %d", hasOffset, len(b), protocol.ErrorChunkSize(len(long), hasOffset))
		}
		typ := protocol.ReplyTypeError
		if hasOffset {
			typ = protocol.ReplyTypeErrorOffset
		}
		c, err := protocol.DecodeErrorChunk(typ, b)
		if err != nil || c.Message != long[:protocol.MaxStringLength] || c.HasOffset != hasOffset || (hasOffset && c.Offset != 77) {
			t.Fatalf("hasOffset=%v: decoded %+.30v, %v", hasOffset, c, err)
		}
	}
}

func TestErrorChunkSize(t *testing.T) {
	for _, n := range []int{0, 1, 100, protocol.MaxStringLength, protocol.MaxStringLength + 1, 1 << 20} {
		for _, hasOffset := range []bool{false, true} {
			b := protocol.AppendErrorChunk(nil, protocol.EIO, strings.Repeat("x", n), hasOffset, 1)
			if got := protocol.ErrorChunkSize(n, hasOffset); got != len(b) {
				t.Errorf("ErrorChunkSize(%d, %v) = %d, AppendErrorChunk wrote %d", n, hasOffset, got, len(b))
			}
		}
	}
}

// Every encoder appends into a preallocated buffer without allocating.
func TestAppendZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 1<<14)
	r := protocol.Request{Type: protocol.CmdWrite, Length: 512}
	ds := protocol.BlockDescriptor{Length: 512, Flags: 3}
	ir := protocol.InfoRequest{Name: "disk", Infos: []protocol.Info{protocol.InfoBlockSize}}
	mr := protocol.MetaContextRequest{Name: "disk", Queries: []string{protocol.MetaContextBaseAllocation}}
	msg := strings.Repeat("m", protocol.MaxStringLength+1)
	for name, f := range map[string]func(){
		"OldstyleGreeting":    func() { _ = protocol.AppendOldstyleGreeting(buf, 1, 0, 1) },
		"NewstyleGreeting":    func() { _ = protocol.AppendNewstyleGreeting(buf, 1) },
		"ClientFlags":         func() { _ = protocol.AppendClientFlags(buf, 1) },
		"ExportNameReply":     func() { _ = protocol.AppendExportNameReply(buf, 1, 1, false) },
		"OptionHeader":        func() { _ = protocol.AppendOptionHeader(buf, protocol.OptGo, 1) },
		"OptionReplyHeader":   func() { _ = protocol.AppendOptionReplyHeader(buf, protocol.OptGo, protocol.RepAck, 0) },
		"InfoRequest":         func() { _ = protocol.AppendInfoRequest(buf, ir) },
		"MetaContextRequest":  func() { _ = protocol.AppendMetaContextRequest(buf, mr) },
		"ServerReply":         func() { _ = protocol.AppendServerReply(buf, "a", "b") },
		"InfoExport":          func() { _ = protocol.AppendInfoExport(buf, 1, 1) },
		"InfoString":          func() { _ = protocol.AppendInfoString(buf, protocol.InfoName, "a") },
		"InfoBlockSize":       func() { _ = protocol.AppendInfoBlockSize(buf, protocol.BlockSizeInfo{}) },
		"MetaContextReply":    func() { _ = protocol.AppendMetaContextReply(buf, 1, "a") },
		"Request":             func() { _ = protocol.AppendRequest(buf, &r, true) },
		"BlockStatusPayload":  func() { _ = protocol.AppendBlockStatusPayload(buf, 1, []uint32{1, 2}) },
		"SimpleReply":         func() { _ = protocol.AppendSimpleReply(buf, 0, 1) },
		"ChunkHeader":         func() { _ = protocol.AppendChunkHeader(buf, true, 0, 1, 2, 3, 4) },
		"OffsetData":          func() { _ = protocol.AppendOffsetData(buf, 1) },
		"OffsetHole":          func() { _ = protocol.AppendOffsetHole(buf, 1, 1) },
		"BlockStatusHeader":   func() { _ = protocol.AppendBlockStatusHeader(buf, true, 1, 1) },
		"BlockDescriptor":     func() { _ = protocol.AppendBlockDescriptor(buf, true, ds) },
		"ErrorChunk":          func() { _ = protocol.AppendErrorChunk(buf, protocol.EIO, msg, true, 1) },
		"ErrorChunkNoOffset":  func() { _ = protocol.AppendErrorChunk(buf, protocol.EIO, "m", false, 0) },
		"BlockDescriptorComp": func() { _ = protocol.AppendBlockDescriptor(buf, false, ds) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("Append%s: %v allocations with room in the buffer, want 0", name, n)
		}
	}
}

// The fixed-size header decoders allocate nothing on success.
func TestDecodeHeadersZeroAllocs(t *testing.T) {
	req := protocol.AppendRequest(nil, &protocol.Request{Type: protocol.CmdRead, Length: 4096}, false)
	ereq := protocol.AppendRequest(nil, &protocol.Request{Type: protocol.CmdRead, Length: 4096}, true)
	rep := protocol.AppendChunkHeader(nil, true, 0, protocol.ReplyTypeOffsetData, 1, 2, 3)
	opt := protocol.AppendOptionHeader(nil, protocol.OptGo, 10)
	orep := protocol.AppendOptionReplyHeader(nil, protocol.OptGo, protocol.RepAck, 0)
	hole := protocol.AppendOffsetHole(nil, 1, 1)
	bsp := protocol.AppendBlockStatusPayload(nil, 1, []uint32{1})
	bs := appendBlockStatus(nil, true, 1, []protocol.BlockDescriptor{{Length: 1}})
	var r protocol.Request
	var h protocol.ReplyHeader
	ids := make([]uint32, 0, 4)
	ds := make([]protocol.BlockDescriptor, 0, 4)
	for name, f := range map[string]func() error{
		"Request":            func() error { return protocol.DecodeRequest(req, false, &r) },
		"RequestExtended":    func() error { return protocol.DecodeRequest(ereq, true, &r) },
		"ReplyHeader":        func() error { return protocol.DecodeReplyHeader(rep, 3, &h) },
		"OptionHeader":       func() error { _, err := protocol.DecodeOptionHeader(opt, 10); return err },
		"OptionReplyHeader":  func() error { _, err := protocol.DecodeOptionReplyHeader(orep, 10); return err },
		"OffsetHole":         func() error { _, _, err := protocol.DecodeOffsetHole(hole); return err },
		"BlockStatusPayload": func() error { _, _, err := protocol.DecodeBlockStatusPayload(bsp, ids[:0]); return err },
		"BlockStatus":        func() error { _, _, err := protocol.DecodeBlockStatus(bs, true, ds[:0]); return err },
	} {
		var err error
		if n := testing.AllocsPerRun(100, func() { err = f() }); n != 0 || err != nil {
			t.Errorf("Decode%s: %v allocations, error %v; want 0, nil", name, n, err)
		}
	}
}
