package protocol_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// decoder adapts every decoder to one shape for the tables below.
type decoder func(b []byte) error

var (
	decOldstyle      decoder = func(b []byte) error { _, err := protocol.DecodeOldstyleGreeting(b); return err }
	decGreetingStart decoder = func(b []byte) error { _, err := protocol.DecodeGreetingStart(b); return err }
	decNewstyle      decoder = func(b []byte) error { _, err := protocol.DecodeNewstyleGreeting(b); return err }
	decClientFlags   decoder = func(b []byte) error { _, err := protocol.DecodeClientFlags(b); return err }
	decExportName    decoder = func(b []byte) error { _, _, err := protocol.DecodeExportNameReply(b); return err }
	decOptHeader     decoder = func(b []byte) error { _, err := protocol.DecodeOptionHeader(b, math.MaxUint32); return err }
	decOptReply      decoder = func(b []byte) error { _, err := protocol.DecodeOptionReplyHeader(b, math.MaxUint32); return err }
	decInfoRequest   decoder = func(b []byte) error { _, err := protocol.DecodeInfoRequest(b, math.MaxUint32); return err }
	decMetaRequest   decoder = func(b []byte) error {
		_, err := protocol.DecodeMetaContextRequest(b, math.MaxUint32)
		return err
	}
	decServerReply decoder = func(b []byte) error { _, _, err := protocol.DecodeServerReply(b); return err }
	decInfoReply   decoder = func(b []byte) error { _, err := protocol.DecodeInfoReply(b); return err }
	decMetaReply   decoder = func(b []byte) error { _, _, err := protocol.DecodeMetaContextReply(b); return err }
	decRequest     decoder = func(b []byte) error { var r protocol.Request; return protocol.DecodeRequest(b, false, &r) }
	decRequestExt  decoder = func(b []byte) error { var r protocol.Request; return protocol.DecodeRequest(b, true, &r) }
	decReply       decoder = func(b []byte) error {
		var h protocol.ReplyHeader
		return protocol.DecodeReplyHeader(b, math.MaxUint64, &h)
	}
	decHole        decoder = func(b []byte) error { _, _, err := protocol.DecodeOffsetHole(b); return err }
	decBlockStatus decoder = func(b []byte) error { _, _, err := protocol.DecodeBlockStatus(b, false, nil); return err }
	decBlockExt    decoder = func(b []byte) error { _, _, err := protocol.DecodeBlockStatus(b, true, nil); return err }
	decError       decoder = func(b []byte) error {
		_, err := protocol.DecodeErrorChunk(protocol.ReplyTypeError, b)
		return err
	}
	decErrorOffset decoder = func(b []byte) error {
		_, err := protocol.DecodeErrorChunk(protocol.ReplyTypeErrorOffset, b)
		return err
	}
	decBSPayload decoder = func(b []byte) error { _, _, err := protocol.DecodeBlockStatusPayload(b, nil); return err }
)

// TestTruncated cuts valid messages at every length below their end (or below their fixed
// part, for messages with a free-length tail) and checks the documented error: fixed-size
// parts give ErrShortMessage, payloads whose length the caller already knows give a
// *FormatError.
func TestTruncated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dec    decoder
		valid  []byte
		cutTo  int // prefixes of length < cutTo fail
		kind   errKind
		before int // prefixes shorter than this fail with kindShort instead of kind (0: none)
	}{
		{"oldstyle greeting", decOldstyle, protocol.AppendOldstyleGreeting(nil, 1, 0, 1), protocol.OldstyleGreetingSize, kindShort, 0},
		{"greeting start", decGreetingStart, protocol.AppendNewstyleGreeting(nil, 1), 16, kindShort, 0},
		{"newstyle greeting", decNewstyle, protocol.AppendNewstyleGreeting(nil, 1), protocol.NewstyleGreetingSize, kindShort, 0},
		{"client flags", decClientFlags, protocol.AppendClientFlags(nil, 1), 4, kindShort, 0},
		{"export name reply", decExportName, protocol.AppendExportNameReply(nil, 1, 1, false), protocol.ExportNameReplySize, kindShort, 0},
		{"option header", decOptHeader, protocol.AppendOptionHeader(nil, protocol.OptGo, 0), protocol.OptionHeaderSize, kindShort, 0},
		{"option reply header", decOptReply, protocol.AppendOptionReplyHeader(nil, protocol.OptGo, protocol.RepAck, 0), protocol.OptionReplyHeaderSize, kindShort, 0},
		{"info request", decInfoRequest, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "disk", Infos: []protocol.Info{protocol.InfoExport, protocol.InfoBlockSize}}), 4 + 4 + 2 + 4, kindFormat, 0},
		{"meta context request", decMetaRequest, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "disk", Queries: []string{"base:", "base:allocation"}}), 4 + 4 + 4 + 4 + 5 + 4 + 15, kindFormat, 0},
		{"server reply", decServerReply, protocol.AppendServerReply(nil, "disk", "description"), 4 + 4, kindFormat, 0},
		{"info export", decInfoReply, protocol.AppendInfoExport(nil, 1, 1), 12, kindFormat, 2},
		{"info block size", decInfoReply, protocol.AppendInfoBlockSize(nil, protocol.BlockSizeInfo{Minimum: 1, Preferred: 2, Maximum: 3}), 14, kindFormat, 2},
		{"info name", decInfoReply, protocol.AppendInfoString(nil, protocol.InfoName, "n"), 2, kindShort, 0},
		{"meta context reply", decMetaReply, protocol.AppendMetaContextReply(nil, 1, "base:allocation"), 4, kindShort, 0},
		{"compact request", decRequest, protocol.AppendRequest(nil, &protocol.Request{Type: protocol.CmdRead, Length: 1}, false), protocol.RequestHeaderSize, kindShort, 0},
		{"extended request", decRequestExt, protocol.AppendRequest(nil, &protocol.Request{Type: protocol.CmdRead, Length: 1}, true), protocol.ExtendedRequestSize, kindShort, 0},
		{"simple reply", decReply, protocol.AppendSimpleReply(nil, 0, 1), protocol.SimpleReplySize, kindShort, 0},
		{"structured reply", decReply, protocol.AppendChunkHeader(nil, false, 0, protocol.ReplyTypeNone, 1, 0, 0), protocol.StructuredReplySize, kindShort, 0},
		{"extended reply", decReply, protocol.AppendChunkHeader(nil, true, 0, protocol.ReplyTypeNone, 1, 0, 0), protocol.ExtendedReplySize, kindShort, 0},
		{"offset hole", decHole, protocol.AppendOffsetHole(nil, 1, 1), 12, kindFormat, 0},
		// A cut at a descriptor's end leaves a valid message: one descriptor here.
		{"block status", decBlockStatus, appendBlockStatus(nil, false, 1, []protocol.BlockDescriptor{{Length: 1}}), 4 + 8, kindFormat, 0},
		{"block status ext", decBlockExt, appendBlockStatus(nil, true, 1, []protocol.BlockDescriptor{{Length: 1}}), 8 + 16, kindFormat, 0},
		{"error chunk", decError, protocol.AppendErrorChunk(nil, protocol.EIO, "message", false, 0), 6 + 7, kindFormat, 6},
		{"error offset chunk", decErrorOffset, protocol.AppendErrorChunk(nil, protocol.EIO, "message", true, 1), 6 + 7 + 8, kindFormat, 6},
		// Eight bytes are a valid payload with no IDs.
		{"block status payload", decBSPayload, protocol.AppendBlockStatusPayload(nil, 1, []uint32{1, 2}), 8, kindFormat, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.dec(tc.valid); err != nil {
				t.Fatalf("valid message %x refused: %v", tc.valid, err)
			}
			for _, p := range cuts(tc.valid, tc.cutTo) {
				want := tc.kind
				if len(p) < tc.before {
					want = kindShort
				}
				// A copy without spare capacity lets the race detector and bounds
				// checks catch reads past the end.
				p = append([]byte(nil), p...)
				if got := classify(tc.dec(p)); got != want {
					t.Errorf("cut to %d of %d bytes: got %v (%v), want %v", len(p), len(tc.valid), got, tc.dec(p), want)
				}
			}
		})
	}
}

// TestTrailing checks that payloads whose length is known exactly refuse extra bytes.
func TestTrailing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dec   decoder
		valid []byte
	}{
		{"info request", decInfoRequest, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "d", Infos: []protocol.Info{protocol.InfoName}})},
		{"info request no infos", decInfoRequest, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "d"})},
		{"meta context request", decMetaRequest, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "d", Queries: []string{"base:"}})},
		{"meta context request no queries", decMetaRequest, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "d"})},
		{"info export", decInfoReply, protocol.AppendInfoExport(nil, 1, 1)},
		{"info block size", decInfoReply, protocol.AppendInfoBlockSize(nil, protocol.BlockSizeInfo{})},
		{"offset hole", decHole, protocol.AppendOffsetHole(nil, 1, 1)},
		{"error offset chunk", decErrorOffset, protocol.AppendErrorChunk(nil, protocol.EIO, "m", true, 1)},
	} {
		for _, extra := range [][]byte{{0}, {0, 0}, {0, 0, 0, 0}, make([]byte, 16)} {
			b := append(append([]byte(nil), tc.valid...), extra...)
			if got := classify(tc.dec(b)); got != kindFormat {
				t.Errorf("%s with %d extra bytes: got %v (%v), want %v", tc.name, len(extra), got, tc.dec(b), kindFormat)
			}
		}
	}
	// Block status payloads must be a whole number of descriptors or IDs.
	for _, tc := range []struct {
		name  string
		dec   decoder
		valid []byte
		unit  int
	}{
		{"block status", decBlockStatus, appendBlockStatus(nil, false, 1, []protocol.BlockDescriptor{{Length: 1}}), 8},
		{"block status ext", decBlockExt, appendBlockStatus(nil, true, 1, []protocol.BlockDescriptor{{Length: 1}}), 16},
		{"block status payload", decBSPayload, protocol.AppendBlockStatusPayload(nil, 1, []uint32{1}), 4},
	} {
		for n := 1; n < tc.unit; n++ {
			b := append(append([]byte(nil), tc.valid...), make([]byte, n)...)
			if got := classify(tc.dec(b)); got != kindFormat {
				t.Errorf("%s with %d extra bytes: got %v (%v), want %v", tc.name, n, got, tc.dec(b), kindFormat)
			}
		}
	}
}

// flip returns b with byte i inverted.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func TestWrongMagic(t *testing.T) {
	old := protocol.AppendOldstyleGreeting(nil, 1, 0, 1)
	nw := protocol.AppendNewstyleGreeting(nil, 1)
	for _, tc := range []struct {
		name  string
		dec   decoder
		valid []byte
		magic int // bytes of magic at the start
	}{
		{"oldstyle greeting", decOldstyle, old, 16},
		{"greeting start oldstyle", decGreetingStart, old, 16},
		{"greeting start newstyle", decGreetingStart, nw, 16},
		{"newstyle greeting", decNewstyle, nw, 16},
		{"option header", decOptHeader, protocol.AppendOptionHeader(nil, protocol.OptGo, 0), 8},
		{"option reply header", decOptReply, protocol.AppendOptionReplyHeader(nil, protocol.OptGo, protocol.RepAck, 0), 8},
		{"compact request", decRequest, protocol.AppendRequest(nil, &protocol.Request{}, false), 4},
		{"extended request", decRequestExt, protocol.AppendRequest(nil, &protocol.Request{}, true), 4},
		{"simple reply", decReply, append(protocol.AppendSimpleReply(nil, 0, 1), make([]byte, 16)...), 4},
		{"structured reply", decReply, append(protocol.AppendChunkHeader(nil, false, 0, 0, 1, 0, 0), make([]byte, 12)...), 4},
		{"extended reply", decReply, protocol.AppendChunkHeader(nil, true, 0, 0, 1, 0, 0), 4},
	} {
		for i := range tc.magic {
			if got := classify(tc.dec(flip(tc.valid, i))); got != kindFormat {
				t.Errorf("%s with magic byte %d flipped: got %v (%v), want %v", tc.name, i, got, tc.dec(flip(tc.valid, i)), kindFormat)
			}
		}
	}

	// Magics that belong to another message, or to history.
	for _, tc := range []struct {
		name string
		dec  decoder
		b    []byte
	}{
		{"oldstyle decoder, newstyle greeting", decOldstyle, append(nw, make([]byte, 200)...)},
		{"newstyle decoder, oldstyle greeting", decNewstyle, old},
		{"compact decoder, extended request", decRequest, protocol.AppendRequest(nil, &protocol.Request{}, true)},
		{"extended decoder, compact request", decRequestExt, append(protocol.AppendRequest(nil, &protocol.Request{}, false), 0, 0, 0, 0)},
		{"reply decoder, historic reply magic", decReply, hexBytes("96744668", strings.Repeat("00", 28))},
		{"reply decoder, request magic", decReply, protocol.AppendRequest(nil, &protocol.Request{}, true)},
		{"request decoder, historic request magic", decRequest, hexBytes("12560953", strings.Repeat("00", 24))},
		{"option decoder, option reply magic", decOptHeader, protocol.AppendOptionReplyHeader(nil, 1, 1, 0)},
		{"option reply decoder, option magic", decOptReply, append(protocol.AppendOptionHeader(nil, 1, 0), 0, 0, 0, 0)},
	} {
		if got := classify(tc.dec(tc.b)); got != kindFormat {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, tc.dec(tc.b), kindFormat)
		}
	}
	// A reply header shorter than 4 bytes has no magic yet; longer, an unknown magic is
	// a format error even when short.
	if got := classify(decReply([]byte{0x12, 0x34, 0x56})); got != kindShort {
		t.Errorf("3-byte reply: got %v", got)
	}
	if got := classify(decReply([]byte{0x12, 0x34, 0x56, 0x78})); got != kindFormat {
		t.Errorf("4-byte reply with unknown magic: got %v", got)
	}
}

// TestTooLarge checks that every length the caller limits is refused with a *TooLargeError
// naming the length and the limit, and that nothing but the error is allocated.
func TestTooLarge(t *testing.T) {
	var h protocol.ReplyHeader
	for _, tc := range []struct {
		name          string
		dec           func() error
		length, limit uint64
	}{
		{"option payload", func() error {
			_, err := protocol.DecodeOptionHeader(protocol.AppendOptionHeader(nil, protocol.OptGo, math.MaxUint32), 4096)
			return err
		}, math.MaxUint32, 4096},
		{"option payload one over", func() error {
			_, err := protocol.DecodeOptionHeader(protocol.AppendOptionHeader(nil, protocol.OptGo, 4097), 4096)
			return err
		}, 4097, 4096},
		{"option payload zero limit", func() error {
			_, err := protocol.DecodeOptionHeader(protocol.AppendOptionHeader(nil, protocol.OptList, 1), 0)
			return err
		}, 1, 0},
		{"option reply payload", func() error {
			_, err := protocol.DecodeOptionReplyHeader(protocol.AppendOptionReplyHeader(nil, protocol.OptList, protocol.RepServer, 1<<31), 1<<20)
			return err
		}, 1 << 31, 1 << 20},
		{"structured reply payload", func() error {
			return protocol.DecodeReplyHeader(protocol.AppendChunkHeader(nil, false, 0, protocol.ReplyTypeOffsetData, 1, 0, math.MaxUint32), protocol.DefaultMaxPayload+8, &h)
		}, math.MaxUint32, protocol.DefaultMaxPayload + 8},
		{"extended reply payload", func() error {
			return protocol.DecodeReplyHeader(protocol.AppendChunkHeader(nil, true, 0, protocol.ReplyTypeOffsetData, 1, 0, 1<<63), protocol.DefaultMaxPayload+8, &h)
		}, 1 << 63, protocol.DefaultMaxPayload + 8},
		{"extended error chunk payload", func() error {
			return protocol.DecodeReplyHeader(protocol.AppendChunkHeader(nil, true, protocol.ReplyFlagDone, protocol.ReplyTypeError, 1, 0, math.MaxUint64), 0, &h)
		}, math.MaxUint64, 0},
		// The declared name length is far beyond the payload: the limit is checked first.
		{"info request name", func() error {
			_, err := protocol.DecodeInfoRequest(hexBytes("ffffffff", "6162"), protocol.MaxStringLength)
			return err
		}, math.MaxUint32, protocol.MaxStringLength},
		{"info request name within payload", func() error {
			_, err := protocol.DecodeInfoRequest(protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "abcdef"}), 5)
			return err
		}, 6, 5},
		{"meta context request name", func() error {
			_, err := protocol.DecodeMetaContextRequest(hexBytes("80000000", "00000000"), protocol.MaxStringLength)
			return err
		}, 1 << 31, protocol.MaxStringLength},
		{"meta context request query", func() error {
			_, err := protocol.DecodeMetaContextRequest(hexBytes("00000000", "00000001", "7fffffff", "61"), protocol.MaxStringLength)
			return err
		}, 1<<31 - 1, protocol.MaxStringLength},
		{"meta context request second query", func() error {
			p := protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "d", Queries: []string{"base:", strings.Repeat("q", 300)}})
			_, err := protocol.DecodeMetaContextRequest(p, 256)
			return err
		}, 300, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dec()
			var tl *protocol.TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("got %T %v, want *TooLargeError", err, err)
			}
			if tl.Length != tc.length || tl.Limit != tc.limit || tl.What == "" {
				t.Fatalf("got %+v, want length %d, limit %d", tl, tc.length, tc.limit)
			}
			if errors.Is(err, protocol.ErrShortMessage) {
				t.Fatalf("too-large error also claims to be short: %v", err)
			}
		})
	}
}

// TestTooLargeAllocatesNothingElse measures the decoders on prebuilt inputs that declare
// huge lengths: the *TooLargeError is the only allocation.
func TestTooLargeAllocatesNothingElse(t *testing.T) {
	opt := protocol.AppendOptionHeader(nil, protocol.OptGo, math.MaxUint32)
	orep := protocol.AppendOptionReplyHeader(nil, protocol.OptList, protocol.RepServer, math.MaxUint32)
	rep := protocol.AppendChunkHeader(nil, true, 0, protocol.ReplyTypeOffsetData, 1, 0, math.MaxUint64)
	info := append(hexBytes("ffffffff"), make([]byte, 64)...)
	meta := append(hexBytes("fffffff0"), make([]byte, 64)...)
	metaQuery := append(hexBytes("00000000", "00000001", "fffffff0"), make([]byte, 64)...)
	var h protocol.ReplyHeader
	for _, tc := range []struct {
		name      string
		f         func() error
		maxAllocs float64
	}{
		// The fixed-size headers allocate the error only.
		{"DecodeOptionHeader", func() error { _, err := protocol.DecodeOptionHeader(opt, 1<<20); return err }, 1},
		{"DecodeOptionReplyHeader", func() error { _, err := protocol.DecodeOptionReplyHeader(orep, 1<<20); return err }, 1},
		{"DecodeReplyHeader", func() error { return protocol.DecodeReplyHeader(rep, 1<<25, &h) }, 1},
		// The string decoders allocate the error and the text naming the string.
		{"DecodeInfoRequest", func() error { _, err := protocol.DecodeInfoRequest(info, 4096); return err }, 2},
		{"DecodeMetaContextRequest name", func() error { _, err := protocol.DecodeMetaContextRequest(meta, 4096); return err }, 2},
		// ... and here the slice for the one query the count announces.
		{"DecodeMetaContextRequest query", func() error { _, err := protocol.DecodeMetaContextRequest(metaQuery, 4096); return err }, 3},
	} {
		var err error
		allocs := testing.AllocsPerRun(100, func() { err = tc.f() })
		wantKind(t, err, kindTooLarge)
		if allocs > tc.maxAllocs {
			t.Errorf("%s: %v allocations for a refused length, want %v at most", tc.name, allocs, tc.maxAllocs)
		}
		if n := bytesPerRun(100, func() { _ = tc.f() }); n > 128 {
			t.Errorf("%s: %d bytes allocated for a refused length", tc.name, n)
		}
	}
}

// sinkString keeps results on the heap, as a caller would (an inlined decoder whose result
// is dropped may build a short string on the stack).
var sinkString string

// TestDecodeAllocatesResultsOnly counts the allocations of successful payload decodes: the
// strings and slices of the result, nothing else.
func TestDecodeAllocatesResultsOnly(t *testing.T) {
	server := protocol.AppendServerReply(nil, "disk", "desc")
	infoReq := protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "disk", Infos: []protocol.Info{protocol.InfoBlockSize}})
	infoReqEmpty := protocol.AppendInfoRequest(nil, protocol.InfoRequest{})
	metaReq := protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "disk", Queries: []string{"base:allocation"}})
	infoName := protocol.AppendInfoString(nil, protocol.InfoName, "disk")
	infoExport := protocol.AppendInfoExport(nil, 1, 1)
	metaReply := protocol.AppendMetaContextReply(nil, 1, "base:allocation")
	errChunk := protocol.AppendErrorChunk(nil, protocol.EIO, "oops", true, 1)
	errChunkEmpty := protocol.AppendErrorChunk(nil, protocol.EIO, "", false, 0)
	for _, tc := range []struct {
		name   string
		f      func() error
		allocs float64
	}{
		{"DecodeServerReply name and description", func() error { _, _, err := protocol.DecodeServerReply(server); return err }, 2},
		{"DecodeInfoRequest name and list", func() error { _, err := protocol.DecodeInfoRequest(infoReq, 4096); return err }, 2},
		{"DecodeInfoRequest empty", func() error { _, err := protocol.DecodeInfoRequest(infoReqEmpty, 4096); return err }, 0},
		{"DecodeMetaContextRequest name, slice and query", func() error { _, err := protocol.DecodeMetaContextRequest(metaReq, 4096); return err }, 3},
		{"DecodeInfoReply name", func() error { _, err := protocol.DecodeInfoReply(infoName); return err }, 1},
		{"DecodeInfoReply export", func() error { _, err := protocol.DecodeInfoReply(infoExport); return err }, 0},
		{"DecodeMetaContextReply name", func() (err error) { _, sinkString, err = protocol.DecodeMetaContextReply(metaReply); return err }, 1},
		{"DecodeErrorChunk message", func() error { _, err := protocol.DecodeErrorChunk(protocol.ReplyTypeErrorOffset, errChunk); return err }, 1},
		{"DecodeErrorChunk empty", func() error { _, err := protocol.DecodeErrorChunk(protocol.ReplyTypeError, errChunkEmpty); return err }, 0},
	} {
		var err error
		if n := testing.AllocsPerRun(100, func() { err = tc.f() }); n != tc.allocs || err != nil {
			t.Errorf("%s: %v allocations, %v; want %v, nil", tc.name, n, err, tc.allocs)
		}
	}
}

// A count from the wire must not size an allocation beyond what the payload can hold.
func TestInconsistentCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		dec  decoder
		b    []byte
	}{
		{"meta context count 2^32-1", decMetaRequest, hexBytes("00000000", "ffffffff", "00000000")},
		{"meta context count 2^31 empty", decMetaRequest, hexBytes("00000000", "80000000")},
		{"meta context count 3 for 2 queries", decMetaRequest, hexBytes("00000000", "00000003", "00000000", "00000000")},
		{"meta context count 1 for 2 queries", decMetaRequest, hexBytes("00000000", "00000001", "00000000", "00000000")},
		{"meta context count 0 with a query", decMetaRequest, hexBytes("00000000", "00000000", "00000000")},
		{"meta context no count", decMetaRequest, hexBytes("00000000", "0000")},
		{"info count 65535", decInfoRequest, hexBytes("00000000", "ffff", "0001")},
		{"info count 2 for 1", decInfoRequest, hexBytes("00000000", "0002", "0001")},
		{"info count 1 for 2", decInfoRequest, hexBytes("00000000", "0001", "0001", "0002")},
		{"info odd tail", decInfoRequest, hexBytes("00000000", "0001", "000100")},
		{"info no count", decInfoRequest, hexBytes("00000000", "00")},
		{"info name beyond payload", decInfoRequest, hexBytes("00000010", "6162", "0000")},
		{"server reply name beyond payload", decServerReply, hexBytes("00000005", "61626364")},
		// No caller limit applies: a name beyond the payload is malformed, not too large.
		{"server reply name 2^32-1", decServerReply, hexBytes("ffffffff", "61626364")},
		{"server reply no name length", decServerReply, hexBytes("000000")},
		{"block status ext count 0", decBlockExt, hexBytes("00000001", "00000000", "0000000000000001", "0000000000000000")},
		{"block status ext count 2 for 1", decBlockExt, hexBytes("00000001", "00000002", "0000000000000001", "0000000000000000")},
		{"block status ext count 1 for 2", decBlockExt, hexBytes("00000001", "00000001", "0000000000000001", "0000000000000000", "0000000000000001", "0000000000000000")},
		{"block status ext count 2^32-1", decBlockExt, hexBytes("00000001", "ffffffff", "0000000000000001", "0000000000000000")},
		{"block status no descriptor", decBlockStatus, hexBytes("00000001")},
		{"block status ext no descriptor", decBlockExt, hexBytes("00000001", "00000000")},
		{"error message beyond payload", decError, hexBytes("00000005", "0005", "61626364")},
		{"error message 65535", decError, hexBytes("00000005", "ffff", "61626364")},
		{"error offset without offset", decErrorOffset, hexBytes("00000005", "0000")},
		{"error offset message eats the offset", decErrorOffset, hexBytes("00000005", "0008", "0000000000000001")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, tc.dec(tc.b), kindFormat)
			// Formatting the error allocates a little; a count-sized slice would not be.
			if n := bytesPerRun(50, func() { _ = tc.dec(tc.b) }); n > 512 {
				t.Errorf("%d bytes allocated to refuse %d bytes of input", n, len(tc.b))
			}
		})
	}
}

// TestMetaContextQueriesCapacity checks that the query slice is sized by the count only
// after the count was found plausible, so a large but honest count works.
func TestMetaContextQueriesCapacity(t *testing.T) {
	const n = 1000
	r := protocol.MetaContextRequest{Name: "", Queries: make([]string, n)}
	got, err := protocol.DecodeMetaContextRequest(protocol.AppendMetaContextRequest(nil, r), 0)
	if err != nil || len(got.Queries) != n || cap(got.Queries) != n {
		t.Fatalf("%d empty queries: len %d cap %d, %v", n, len(got.Queries), cap(got.Queries), err)
	}
}

func TestSemanticErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		dec  decoder
		b    []byte
	}{
		{"hole of size zero", decHole, hexBytes("0000000000001000", "00000000")},
		{"compact descriptor of length zero", decBlockStatus, hexBytes("00000001", "00000000", "00000003")},
		{"compact second descriptor of length zero", decBlockStatus, hexBytes("00000001", "00000200", "00000000", "00000000", "00000001")},
		{"extended descriptor of length zero", decBlockExt, hexBytes("00000001", "00000001", "0000000000000000", "0000000000000003")},
		{"error chunk with errno zero", decError, hexBytes("00000000", "0000")},
		{"error chunk with errno zero and message", decError, hexBytes("00000000", "0002", "6869")},
		{"error offset chunk with errno zero", decErrorOffset, hexBytes("00000000", "0000", "0000000000000001")},
		{"info export of 9 bytes", decInfoReply, hexBytes("0000", "000000000000000000")},
		{"info export of 11 bytes", decInfoReply, hexBytes("0000", "0000000000000000000000")},
		{"info block size of 11 bytes", decInfoReply, hexBytes("0003", "0000000000000000000000")},
		{"info block size of 13 bytes", decInfoReply, hexBytes("0003", "00000000000000000000000000")},
		{"block status payload of 7 bytes", decBSPayload, hexBytes("00000000000000")},
		{"block status payload of 10 bytes", decBSPayload, hexBytes("0000000000000000", "0000")},
	} {
		wantKind(t, tc.dec(tc.b), kindFormat)
	}
	// Errors of unknown error types keep the common part and may have more after it.
	c, err := protocol.DecodeErrorChunk(protocol.ReplyTypeError+7, hexBytes("0000005f", "0002", "6869", "ffffffff"))
	if err != nil || c != (protocol.ErrorChunk{Errno: protocol.ENOTSUP, Message: "hi"}) {
		t.Errorf("unknown error type: %+v, %v", c, err)
	}
	// A compact reply header whose length is at the limit is accepted (the limit is
	// inclusive), and its fields are returned with the too-large error otherwise.
	var h protocol.ReplyHeader
	b := protocol.AppendChunkHeader(nil, false, 0, protocol.ReplyTypeOffsetData, 5, 0, 100)
	if err := protocol.DecodeReplyHeader(b, 100, &h); err != nil {
		t.Errorf("length at the limit: %v", err)
	}
	if err := protocol.DecodeReplyHeader(b, 99, &h); classify(err) != kindTooLarge || h.Cookie != 5 || h.Length != 100 {
		t.Errorf("length over the limit: %+v, %v; want the header and a *TooLargeError", h, err)
	}
}

func TestErrorTexts(t *testing.T) {
	fe := &protocol.FormatError{Message: "request", Problem: "magic 0x1, want 0x25609513"}
	if got, want := fe.Error(), "nbd: malformed request: magic 0x1, want 0x25609513"; got != want {
		t.Errorf("FormatError.Error() = %q, want %q", got, want)
	}
	tl := &protocol.TooLargeError{What: "option payload", Length: 5000, Limit: 4096}
	if got, want := tl.Error(), "nbd: option payload of 5000 bytes exceeds the limit of 4096"; got != want {
		t.Errorf("TooLargeError.Error() = %q, want %q", got, want)
	}
	// Decoder errors say what was being decoded.
	var r protocol.Request
	err := protocol.DecodeRequest(make([]byte, 28), false, &r)
	var got *protocol.FormatError
	if !errors.As(err, &got) || got.Message != "request" || !strings.Contains(got.Problem, "0x25609513") {
		t.Errorf("bad request magic: %#v", err)
	}
	err = protocol.DecodeRequest(make([]byte, 27), false, &r)
	if !errors.Is(err, protocol.ErrShortMessage) || !strings.Contains(err.Error(), "27 bytes, want 28") {
		t.Errorf("short request: %v", err)
	}
}
