package protocol_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// The golden messages below are written by hand from the layouts of the specification
// (doc/proto.md with extended headers), one field per line: width, name and value. Each test
// compares the encoder's output with them and decodes them back.

type golden struct {
	name   string
	wire   []byte
	encode func() []byte
	decode func(t *testing.T, b []byte) // decodes b and checks the value
}

func goldenCases() []golden {
	const cookie = 0x0102030405060708
	bs := protocol.BlockSizeInfo{Minimum: 512, Preferred: 4096, Maximum: 32 << 20}
	return []golden{
		{
			name: "oldstyle greeting",
			wire: hexBytes(
				"4e42444d41474943",        // 64 bits, "NBDMAGIC" (INIT_PASSWD)
				"0000420281861253",        // 64 bits, cliserv_magic 0x00420281861253
				"0000000040000000",        // 64 bits, export size 1 GiB
				"0000",                    // 32 bits of flags: high 16, global flags (none)
				"0005",                    //   low 16, transmission flags HAS_FLAGS|SEND_FLUSH
				strings.Repeat("00", 124), // 124 bytes, reserved zeroes
			),
			encode: func() []byte {
				return protocol.AppendOldstyleGreeting(nil, 1<<30, 0, protocol.FlagHasFlags|protocol.FlagSendFlush)
			},
			decode: func(t *testing.T, b []byte) {
				g, err := protocol.DecodeOldstyleGreeting(b)
				want := protocol.OldstyleGreeting{Size: 1 << 30, Flags: protocol.FlagHasFlags | protocol.FlagSendFlush}
				if err != nil || g != want {
					t.Fatalf("got %+v, %v; want %+v", g, err, want)
				}
				if old, err := protocol.DecodeGreetingStart(b); !old || err != nil {
					t.Fatalf("DecodeGreetingStart = %v, %v; want oldstyle", old, err)
				}
			},
		},
		{
			name: "newstyle greeting",
			wire: hexBytes(
				"4e42444d41474943", // 64 bits, "NBDMAGIC"
				"49484156454f5054", // 64 bits, "IHAVEOPT"
				"0003",             // 16 bits, handshake flags FIXED_NEWSTYLE|NO_ZEROES
			),
			encode: func() []byte {
				return protocol.AppendNewstyleGreeting(nil, protocol.HandshakeFixedNewstyle|protocol.HandshakeNoZeroes)
			},
			decode: func(t *testing.T, b []byte) {
				hf, err := protocol.DecodeNewstyleGreeting(b)
				if err != nil || hf != protocol.HandshakeFixedNewstyle|protocol.HandshakeNoZeroes {
					t.Fatalf("got %#x, %v", hf, err)
				}
			},
		},
		{
			name: "client flags",
			wire: hexBytes(
				"00000003", // 32 bits, client flags C_FIXED_NEWSTYLE|C_NO_ZEROES
			),
			encode: func() []byte {
				return protocol.AppendClientFlags(nil, protocol.ClientFixedNewstyle|protocol.ClientNoZeroes)
			},
			decode: func(t *testing.T, b []byte) {
				cf, err := protocol.DecodeClientFlags(b)
				if err != nil || cf != protocol.ClientFixedNewstyle|protocol.ClientNoZeroes {
					t.Fatalf("got %#x, %v", cf, err)
				}
			},
		},
		{
			name: "NBD_OPT_EXPORT_NAME reply with zeroes",
			wire: hexBytes(
				"0000000000100000",        // 64 bits, export size 1 MiB
				"0003",                    // 16 bits, transmission flags HAS_FLAGS|READ_ONLY
				strings.Repeat("00", 124), // 124 bytes, zeroes
			),
			encode: func() []byte {
				return protocol.AppendExportNameReply(nil, 1<<20, protocol.FlagHasFlags|protocol.FlagReadOnly, false)
			},
			decode: func(t *testing.T, b []byte) {
				size, fl, err := protocol.DecodeExportNameReply(b)
				if err != nil || size != 1<<20 || fl != protocol.FlagHasFlags|protocol.FlagReadOnly {
					t.Fatalf("got %d, %#x, %v", size, fl, err)
				}
			},
		},
		{
			name: "NBD_OPT_EXPORT_NAME reply without zeroes",
			wire: hexBytes(
				"0000000000100000", // 64 bits, export size 1 MiB
				"0003",             // 16 bits, transmission flags HAS_FLAGS|READ_ONLY
			),
			encode: func() []byte {
				return protocol.AppendExportNameReply(nil, 1<<20, protocol.FlagHasFlags|protocol.FlagReadOnly, true)
			},
			decode: func(t *testing.T, b []byte) {
				size, fl, err := protocol.DecodeExportNameReply(b)
				if err != nil || size != 1<<20 || fl != protocol.FlagHasFlags|protocol.FlagReadOnly {
					t.Fatalf("got %d, %#x, %v", size, fl, err)
				}
			},
		},
		{
			name: "NBD_OPT_GO header and info request",
			wire: hexBytes(
				"49484156454f5054", // 64 bits, "IHAVEOPT"
				"00000007",         // 32 bits, option NBD_OPT_GO
				"0000000c",         // 32 bits, option data length 12
				"00000004",         // 32 bits, name length 4
				"6469736b",         // name "disk"
				"0001",             // 16 bits, number of information requests
				"0003",             // 16 bits, NBD_INFO_BLOCK_SIZE
			),
			encode: func() []byte {
				b := protocol.AppendOptionHeader(nil, protocol.OptGo, 12)
				return protocol.AppendInfoRequest(b, protocol.InfoRequest{Name: "disk", Infos: []protocol.Info{protocol.InfoBlockSize}})
			},
			decode: func(t *testing.T, b []byte) {
				h, err := protocol.DecodeOptionHeader(b, 12)
				if err != nil || h != (protocol.OptionHeader{Opt: protocol.OptGo, Length: 12}) {
					t.Fatalf("header %+v, %v", h, err)
				}
				r, err := protocol.DecodeInfoRequest(b[protocol.OptionHeaderSize:], 4)
				want := protocol.InfoRequest{Name: "disk", Infos: []protocol.Info{protocol.InfoBlockSize}}
				if err != nil || !reflect.DeepEqual(r, want) {
					t.Fatalf("payload %+v, %v", r, err)
				}
			},
		},
		{
			name: "NBD_OPT_SET_META_CONTEXT payload",
			wire: hexBytes(
				"00000004",                       // 32 bits, export name length
				"6469736b",                       // export name "disk"
				"00000001",                       // 32 bits, number of queries
				"0000000f",                       // 32 bits, query length 15
				"626173653a616c6c6f636174696f6e", // query "base:allocation"
			),
			encode: func() []byte {
				return protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "disk", Queries: []string{"base:allocation"}})
			},
			decode: func(t *testing.T, b []byte) {
				r, err := protocol.DecodeMetaContextRequest(b, 15)
				want := protocol.MetaContextRequest{Name: "disk", Queries: []string{"base:allocation"}}
				if err != nil || !reflect.DeepEqual(r, want) {
					t.Fatalf("got %+v, %v", r, err)
				}
			},
		},
		{
			name: "NBD_REP_SERVER",
			wire: hexBytes(
				"0003e889045565a9", // 64 bits, option reply magic
				"00000003",         // 32 bits, option NBD_OPT_LIST
				"00000002",         // 32 bits, reply type NBD_REP_SERVER
				"0000000f",         // 32 bits, reply length 15
				"00000004",         // 32 bits, name length 4
				"6469736b",         // name "disk"
				"6d79206469736b",   // description "my disk" (the rest)
			),
			encode: func() []byte {
				b := protocol.AppendOptionReplyHeader(nil, protocol.OptList, protocol.RepServer, 15)
				return protocol.AppendServerReply(b, "disk", "my disk")
			},
			decode: func(t *testing.T, b []byte) {
				h, err := protocol.DecodeOptionReplyHeader(b, 15)
				if err != nil || h != (protocol.OptionReplyHeader{Opt: protocol.OptList, Type: protocol.RepServer, Length: 15}) {
					t.Fatalf("header %+v, %v", h, err)
				}
				name, desc, err := protocol.DecodeServerReply(b[protocol.OptionReplyHeaderSize:])
				if err != nil || name != "disk" || desc != "my disk" {
					t.Fatalf("payload %q, %q, %v", name, desc, err)
				}
			},
		},
		{
			name: "NBD_REP_INFO with NBD_INFO_EXPORT",
			wire: hexBytes(
				"0003e889045565a9", // 64 bits, option reply magic
				"00000006",         // 32 bits, option NBD_OPT_INFO
				"00000003",         // 32 bits, reply type NBD_REP_INFO
				"0000000c",         // 32 bits, reply length 12
				"0000",             // 16 bits, NBD_INFO_EXPORT
				"0000010000000000", // 64 bits, export size 1 TiB
				"0d0d",             // 16 bits, transmission flags
			),
			encode: func() []byte {
				b := protocol.AppendOptionReplyHeader(nil, protocol.OptInfo, protocol.RepInfo, 12)
				return protocol.AppendInfoExport(b, 1<<40, 0x0d0d)
			},
			decode: func(t *testing.T, b []byte) {
				r, err := protocol.DecodeInfoReply(b[protocol.OptionReplyHeaderSize:])
				want := protocol.InfoReply{Type: protocol.InfoExport, Size: 1 << 40, Flags: 0x0d0d}
				if err != nil || r != want {
					t.Fatalf("got %+v, %v; want %+v", r, err, want)
				}
			},
		},
		{
			name: "NBD_REP_INFO with NBD_INFO_BLOCK_SIZE",
			wire: hexBytes(
				"0003e889045565a9", // 64 bits, option reply magic
				"00000007",         // 32 bits, option NBD_OPT_GO
				"00000003",         // 32 bits, reply type NBD_REP_INFO
				"0000000e",         // 32 bits, reply length 14
				"0003",             // 16 bits, NBD_INFO_BLOCK_SIZE
				"00000200",         // 32 bits, minimum block size 512
				"00001000",         // 32 bits, preferred block size 4096
				"02000000",         // 32 bits, maximum payload size 32 MiB
			),
			encode: func() []byte {
				b := protocol.AppendOptionReplyHeader(nil, protocol.OptGo, protocol.RepInfo, 14)
				return protocol.AppendInfoBlockSize(b, bs)
			},
			decode: func(t *testing.T, b []byte) {
				h, err := protocol.DecodeOptionReplyHeader(b, 14)
				if err != nil || h != (protocol.OptionReplyHeader{Opt: protocol.OptGo, Type: protocol.RepInfo, Length: 14}) {
					t.Fatalf("header %+v, %v", h, err)
				}
				r, err := protocol.DecodeInfoReply(b[protocol.OptionReplyHeaderSize:])
				if err != nil || r != (protocol.InfoReply{Type: protocol.InfoBlockSize, BlockSize: bs}) {
					t.Fatalf("payload %+v, %v", r, err)
				}
			},
		},
		{
			name: "NBD_REP_INFO with NBD_INFO_DESCRIPTION",
			wire: hexBytes(
				"0002",     // 16 bits, NBD_INFO_DESCRIPTION
				"64657363", // description "desc", length - 2 bytes
			),
			encode: func() []byte { return protocol.AppendInfoString(nil, protocol.InfoDescription, "desc") },
			decode: func(t *testing.T, b []byte) {
				r, err := protocol.DecodeInfoReply(b)
				if err != nil || r != (protocol.InfoReply{Type: protocol.InfoDescription, Description: "desc"}) {
					t.Fatalf("got %+v, %v", r, err)
				}
			},
		},
		{
			name: "NBD_REP_META_CONTEXT",
			wire: hexBytes(
				"0003e889045565a9",               // 64 bits, option reply magic
				"0000000a",                       // 32 bits, option NBD_OPT_SET_META_CONTEXT
				"00000004",                       // 32 bits, reply type NBD_REP_META_CONTEXT
				"00000013",                       // 32 bits, reply length 19
				"00000001",                       // 32 bits, metadata context ID
				"626173653a616c6c6f636174696f6e", // name "base:allocation"
			),
			encode: func() []byte {
				b := protocol.AppendOptionReplyHeader(nil, protocol.OptSetMetaContext, protocol.RepMetaContext, 19)
				return protocol.AppendMetaContextReply(b, 1, protocol.MetaContextBaseAllocation)
			},
			decode: func(t *testing.T, b []byte) {
				id, name, err := protocol.DecodeMetaContextReply(b[protocol.OptionReplyHeaderSize:])
				if err != nil || id != 1 || name != protocol.MetaContextBaseAllocation {
					t.Fatalf("got %d, %q, %v", id, name, err)
				}
			},
		},
		{
			name: "NBD_REP_ERR_UNSUP",
			wire: hexBytes(
				"0003e889045565a9", // 64 bits, option reply magic
				"0000000b",         // 32 bits, option NBD_OPT_EXTENDED_HEADERS
				"80000001",         // 32 bits, reply type NBD_REP_ERR_UNSUP (2^31 + 1)
				"00000000",         // 32 bits, reply length 0
			),
			encode: func() []byte {
				return protocol.AppendOptionReplyHeader(nil, protocol.OptExtendedHeaders, protocol.RepErrUnsup, 0)
			},
			decode: func(t *testing.T, b []byte) {
				h, err := protocol.DecodeOptionReplyHeader(b, 0)
				if err != nil || h != (protocol.OptionReplyHeader{Opt: protocol.OptExtendedHeaders, Type: protocol.RepErrUnsup}) || !h.Type.IsError() {
					t.Fatalf("got %+v, %v", h, err)
				}
			},
		},
		{
			name: "compact NBD_CMD_WRITE request",
			wire: hexBytes(
				"25609513",         // 32 bits, NBD_REQUEST_MAGIC
				"0001",             // 16 bits, command flags NBD_CMD_FLAG_FUA
				"0001",             // 16 bits, type NBD_CMD_WRITE
				"0102030405060708", // 64 bits, cookie
				"0000000000100000", // 64 bits, offset 1 MiB
				"00001000",         // 32 bits, length 4096 (payload follows)
			),
			encode: func() []byte {
				return protocol.AppendRequest(nil, &protocol.Request{Flags: protocol.CmdFlagFUA, Type: protocol.CmdWrite, Cookie: cookie, Offset: 1 << 20, Length: 4096}, false)
			},
			decode: func(t *testing.T, b []byte) {
				var r protocol.Request
				err := protocol.DecodeRequest(b, false, &r)
				want := protocol.Request{Flags: protocol.CmdFlagFUA, Type: protocol.CmdWrite, Cookie: cookie, Offset: 1 << 20, Length: 4096}
				if err != nil || r != want || !r.HasPayload(false) {
					t.Fatalf("got %+v, %v; want %+v", r, err, want)
				}
			},
		},
		{
			name: "extended NBD_CMD_BLOCK_STATUS request with a 64-bit length",
			wire: hexBytes(
				"21e41c71",         // 32 bits, NBD_EXTENDED_REQUEST_MAGIC
				"0008",             // 16 bits, command flags NBD_CMD_FLAG_REQ_ONE
				"0007",             // 16 bits, type NBD_CMD_BLOCK_STATUS
				"deadbeefcafef00d", // 64 bits, cookie
				"0000000200000000", // 64 bits, offset 8 GiB
				"0000010000000000", // 64 bits, effect length 1 TiB
			),
			encode: func() []byte {
				return protocol.AppendRequest(nil, &protocol.Request{Flags: protocol.CmdFlagReqOne, Type: protocol.CmdBlockStatus, Cookie: 0xdeadbeefcafef00d, Offset: 8 << 30, Length: 1 << 40}, true)
			},
			decode: func(t *testing.T, b []byte) {
				var r protocol.Request
				err := protocol.DecodeRequest(b, true, &r)
				want := protocol.Request{Flags: protocol.CmdFlagReqOne, Type: protocol.CmdBlockStatus, Cookie: 0xdeadbeefcafef00d, Offset: 8 << 30, Length: 1 << 40}
				if err != nil || r != want || r.HasPayload(true) {
					t.Fatalf("got %+v, %v; want %+v", r, err, want)
				}
			},
		},
		{
			name: "extended NBD_CMD_BLOCK_STATUS request with a payload",
			wire: hexBytes(
				"21e41c71",         // 32 bits, NBD_EXTENDED_REQUEST_MAGIC
				"0020",             // 16 bits, command flags NBD_CMD_FLAG_PAYLOAD_LEN
				"0007",             // 16 bits, type NBD_CMD_BLOCK_STATUS
				"0000000000000001", // 64 bits, cookie
				"0000000000000000", // 64 bits, offset
				"0000000000000010", // 64 bits, payload length 16
				"0000000100000000", // payload: 64 bits, effect length 4 GiB
				"00000001",         //   32 bits, metacontext id 1
				"00000003",         //   32 bits, metacontext id 3
			),
			encode: func() []byte {
				b := protocol.AppendRequest(nil, &protocol.Request{Flags: protocol.CmdFlagPayloadLen, Type: protocol.CmdBlockStatus, Cookie: 1, Length: 16}, true)
				return protocol.AppendBlockStatusPayload(b, 4<<30, []uint32{1, 3})
			},
			decode: func(t *testing.T, b []byte) {
				var r protocol.Request
				if err := protocol.DecodeRequest(b, true, &r); err != nil || !r.HasPayload(true) || r.Length != 16 {
					t.Fatalf("header %+v, %v", r, err)
				}
				length, ids, err := protocol.DecodeBlockStatusPayload(b[protocol.ExtendedRequestSize:], nil)
				if err != nil || length != 4<<30 || !reflect.DeepEqual(ids, []uint32{1, 3}) {
					t.Fatalf("payload %d %v, %v", length, ids, err)
				}
			},
		},
		{
			name: "extended NBD_CMD_WRITE request",
			wire: hexBytes(
				"21e41c71",         // 32 bits, NBD_EXTENDED_REQUEST_MAGIC
				"0021",             // 16 bits, command flags PAYLOAD_LEN|FUA
				"0001",             // 16 bits, type NBD_CMD_WRITE
				"0000000000000002", // 64 bits, cookie
				"0000000000000200", // 64 bits, offset 512
				"0000000000000200", // 64 bits, payload length 512
			),
			encode: func() []byte {
				return protocol.AppendRequest(nil, &protocol.Request{Flags: protocol.CmdFlagPayloadLen | protocol.CmdFlagFUA, Type: protocol.CmdWrite, Cookie: 2, Offset: 512, Length: 512}, true)
			},
			decode: func(t *testing.T, b []byte) {
				var r protocol.Request
				err := protocol.DecodeRequest(b, true, &r)
				want := protocol.Request{Flags: protocol.CmdFlagPayloadLen | protocol.CmdFlagFUA, Type: protocol.CmdWrite, Cookie: 2, Offset: 512, Length: 512}
				if err != nil || r != want {
					t.Fatalf("got %+v, %v; want %+v", r, err, want)
				}
			},
		},
		{
			name: "simple reply",
			wire: hexBytes(
				"67446698",         // 32 bits, NBD_SIMPLE_REPLY_MAGIC
				"0000001c",         // 32 bits, error NBD_ENOSPC (28)
				"0102030405060708", // 64 bits, cookie
			),
			encode: func() []byte { return protocol.AppendSimpleReply(nil, protocol.ENOSPC, cookie) },
			decode: func(t *testing.T, b []byte) {
				var h protocol.ReplyHeader
				err := protocol.DecodeReplyHeader(b, 0, &h)
				want := protocol.ReplyHeader{Magic: protocol.SimpleReplyMagic, Errno: protocol.ENOSPC, Cookie: cookie, Flags: protocol.ReplyFlagDone}
				if err != nil || h != want {
					t.Fatalf("got %+v, %v; want %+v", h, err, want)
				}
			},
		},
		{
			name: "structured NBD_REPLY_TYPE_NONE",
			wire: hexBytes(
				"668e33ef",         // 32 bits, NBD_STRUCTURED_REPLY_MAGIC
				"0001",             // 16 bits, flags NBD_REPLY_FLAG_DONE
				"0000",             // 16 bits, type NBD_REPLY_TYPE_NONE
				"0102030405060708", // 64 bits, cookie
				"00000000",         // 32 bits, length 0
			),
			encode: func() []byte {
				return protocol.AppendChunkHeader(nil, false, protocol.ReplyFlagDone, protocol.ReplyTypeNone, cookie, 1<<20, 0)
			},
			decode: func(t *testing.T, b []byte) {
				var h protocol.ReplyHeader
				err := protocol.DecodeReplyHeader(b, 0, &h)
				want := protocol.ReplyHeader{Magic: protocol.StructuredReplyMagic, Flags: protocol.ReplyFlagDone, Type: protocol.ReplyTypeNone, Cookie: cookie}
				if err != nil || h != want {
					t.Fatalf("got %+v, %v; want %+v", h, err, want)
				}
			},
		},
		{
			name: "structured NBD_REPLY_TYPE_OFFSET_DATA",
			wire: hexBytes(
				"668e33ef",         // 32 bits, NBD_STRUCTURED_REPLY_MAGIC
				"0000",             // 16 bits, flags (not done)
				"0001",             // 16 bits, type NBD_REPLY_TYPE_OFFSET_DATA
				"0102030405060708", // 64 bits, cookie
				"0000000c",         // 32 bits, length 8 + 4
				"0000000000000200", // payload: 64 bits, offset 512
				"deadbeef",         //   4 bytes of data
			),
			encode: func() []byte {
				b := protocol.AppendChunkHeader(nil, false, 0, protocol.ReplyTypeOffsetData, cookie, 0, 12)
				b = protocol.AppendOffsetData(b, 512)
				return append(b, 0xde, 0xad, 0xbe, 0xef)
			},
			decode: func(t *testing.T, b []byte) {
				var h protocol.ReplyHeader
				err := protocol.DecodeReplyHeader(b, 12, &h)
				want := protocol.ReplyHeader{Magic: protocol.StructuredReplyMagic, Type: protocol.ReplyTypeOffsetData, Cookie: cookie, Length: 12}
				if err != nil || h != want {
					t.Fatalf("got %+v, %v; want %+v", h, err, want)
				}
			},
		},
		{
			name: "structured NBD_REPLY_TYPE_OFFSET_HOLE",
			wire: hexBytes(
				"668e33ef",         // 32 bits, NBD_STRUCTURED_REPLY_MAGIC
				"0001",             // 16 bits, flags NBD_REPLY_FLAG_DONE
				"0002",             // 16 bits, type NBD_REPLY_TYPE_OFFSET_HOLE
				"0102030405060708", // 64 bits, cookie
				"0000000c",         // 32 bits, length 12
				"0000000000010000", // payload: 64 bits, offset 64 KiB
				"00008000",         //   32 bits, hole size 32 KiB
			),
			encode: func() []byte {
				b := protocol.AppendChunkHeader(nil, false, protocol.ReplyFlagDone, protocol.ReplyTypeOffsetHole, cookie, 0, 12)
				return protocol.AppendOffsetHole(b, 64<<10, 32<<10)
			},
			decode: func(t *testing.T, b []byte) {
				var h protocol.ReplyHeader
				err := protocol.DecodeReplyHeader(b, 12, &h)
				want := protocol.ReplyHeader{Magic: protocol.StructuredReplyMagic, Flags: protocol.ReplyFlagDone, Type: protocol.ReplyTypeOffsetHole, Cookie: cookie, Length: 12}
				if err != nil || h != want {
					t.Fatalf("header %+v, %v; want %+v", h, err, want)
				}
				off, size, err := protocol.DecodeOffsetHole(b[protocol.StructuredReplySize:])
				if err != nil || off != 64<<10 || size != 32<<10 {
					t.Fatalf("payload %d+%d, %v", off, size, err)
				}
			},
		},
		{
			name: "extended reply header",
			wire: hexBytes(
				"6e8a278c",         // 32 bits, NBD_EXTENDED_REPLY_MAGIC
				"0000",             // 16 bits, flags
				"0001",             // 16 bits, type NBD_REPLY_TYPE_OFFSET_DATA
				"0102030405060708", // 64 bits, cookie
				"0000001000000000", // 64 bits, offset of the request (64 GiB)
				"0000000000010008", // 64 bits, payload length 64 KiB + 8
			),
			encode: func() []byte {
				return protocol.AppendChunkHeader(nil, true, 0, protocol.ReplyTypeOffsetData, cookie, 64<<30, 64<<10+8)
			},
			decode: func(t *testing.T, b []byte) {
				var h protocol.ReplyHeader
				err := protocol.DecodeReplyHeader(b, 64<<10+8, &h)
				want := protocol.ReplyHeader{Magic: protocol.ExtendedReplyMagic, Type: protocol.ReplyTypeOffsetData, Cookie: cookie, Offset: 64 << 30, Length: 64<<10 + 8}
				if err != nil || h != want {
					t.Fatalf("got %+v, %v; want %+v", h, err, want)
				}
			},
		},
		{
			name: "structured NBD_REPLY_TYPE_BLOCK_STATUS",
			wire: hexBytes(
				"668e33ef",         // 32 bits, NBD_STRUCTURED_REPLY_MAGIC
				"0001",             // 16 bits, flags NBD_REPLY_FLAG_DONE
				"0005",             // 16 bits, type NBD_REPLY_TYPE_BLOCK_STATUS
				"0102030405060708", // 64 bits, cookie
				"00000014",         // 32 bits, length 4 + 2*8
				"00000001",         // payload: 32 bits, metadata context ID
				"00001000",         //   descriptor 1: 32 bits, length 4096
				"00000003",         //                 32 bits, flags HOLE|ZERO
				"00002000",         //   descriptor 2: 32 bits, length 8192
				"00000000",         //                 32 bits, flags 0
			),
			encode: func() []byte {
				b := protocol.AppendChunkHeader(nil, false, protocol.ReplyFlagDone, protocol.ReplyTypeBlockStatus, cookie, 0, 20)
				return appendBlockStatus(b, false, 1, []protocol.BlockDescriptor{{Length: 4096, Flags: 3}, {Length: 8192}})
			},
			decode: func(t *testing.T, b []byte) {
				id, ds, err := protocol.DecodeBlockStatus(b[protocol.StructuredReplySize:], false, nil)
				if err != nil || id != 1 || !reflect.DeepEqual(ds, []protocol.BlockDescriptor{{Length: 4096, Flags: 3}, {Length: 8192}}) {
					t.Fatalf("got %d %v, %v", id, ds, err)
				}
			},
		},
		{
			name: "extended NBD_REPLY_TYPE_BLOCK_STATUS_EXT",
			wire: hexBytes(
				"6e8a278c",         // 32 bits, NBD_EXTENDED_REPLY_MAGIC
				"0001",             // 16 bits, flags NBD_REPLY_FLAG_DONE
				"0006",             // 16 bits, type NBD_REPLY_TYPE_BLOCK_STATUS_EXT
				"0102030405060708", // 64 bits, cookie
				"0000000000001000", // 64 bits, offset of the request
				"0000000000000018", // 64 bits, length 8 + 16
				"00000002",         // payload: 32 bits, metadata context ID
				"00000001",         //   32 bits, descriptor count
				"0000010000000000", //   descriptor: 64 bits, length 1 TiB
				"0000000000000001", //               64 bits, status NBD_STATE_HOLE
			),
			encode: func() []byte {
				b := protocol.AppendChunkHeader(nil, true, protocol.ReplyFlagDone, protocol.ReplyTypeBlockStatusExt, cookie, 4096, 24)
				b = protocol.AppendBlockStatusHeader(b, true, 2, 1)
				return protocol.AppendBlockDescriptor(b, true, protocol.BlockDescriptor{Length: 1 << 40, Flags: uint64(protocol.StateHole)})
			},
			decode: func(t *testing.T, b []byte) {
				id, ds, err := protocol.DecodeBlockStatus(b[protocol.ExtendedReplySize:], true, nil)
				if err != nil || id != 2 || !reflect.DeepEqual(ds, []protocol.BlockDescriptor{{Length: 1 << 40, Flags: 1}}) {
					t.Fatalf("got %d %v, %v", id, ds, err)
				}
			},
		},
		{
			name: "structured NBD_REPLY_TYPE_ERROR",
			wire: hexBytes(
				"668e33ef",         // 32 bits, NBD_STRUCTURED_REPLY_MAGIC
				"0001",             // 16 bits, flags NBD_REPLY_FLAG_DONE
				"8001",             // 16 bits, type NBD_REPLY_TYPE_ERROR (2^15 + 1)
				"0102030405060708", // 64 bits, cookie
				"0000000a",         // 32 bits, length 6 + 4
				"00000005",         // payload: 32 bits, error NBD_EIO
				"0004",             //   16 bits, message length
				"6f6f7073",         //   message "oops"
			),
			encode: func() []byte {
				b := protocol.AppendChunkHeader(nil, false, protocol.ReplyFlagDone, protocol.ReplyTypeError, cookie, 0, 10)
				return protocol.AppendErrorChunk(b, protocol.EIO, "oops", false, 0)
			},
			decode: func(t *testing.T, b []byte) {
				c, err := protocol.DecodeErrorChunk(protocol.ReplyTypeError, b[protocol.StructuredReplySize:])
				if err != nil || c != (protocol.ErrorChunk{Errno: protocol.EIO, Message: "oops"}) {
					t.Fatalf("got %+v, %v", c, err)
				}
			},
		},
		{
			name: "extended NBD_REPLY_TYPE_ERROR_OFFSET",
			wire: hexBytes(
				"6e8a278c",         // 32 bits, NBD_EXTENDED_REPLY_MAGIC
				"0000",             // 16 bits, flags
				"8002",             // 16 bits, type NBD_REPLY_TYPE_ERROR_OFFSET (2^15 + 2)
				"0102030405060708", // 64 bits, cookie
				"0000000000000000", // 64 bits, offset of the request
				"0000000000000012", // 64 bits, length 6 + 4 + 8
				"0000001c",         // payload: 32 bits, error NBD_ENOSPC
				"0004",             //   16 bits, message length
				"66756c6c",         //   message "full"
				"0000000000003000", //   64 bits, offset of the error
			),
			encode: func() []byte {
				b := protocol.AppendChunkHeader(nil, true, 0, protocol.ReplyTypeErrorOffset, cookie, 0, 18)
				return protocol.AppendErrorChunk(b, protocol.ENOSPC, "full", true, 0x3000)
			},
			decode: func(t *testing.T, b []byte) {
				c, err := protocol.DecodeErrorChunk(protocol.ReplyTypeErrorOffset, b[protocol.ExtendedReplySize:])
				if err != nil || c != (protocol.ErrorChunk{Errno: protocol.ENOSPC, Message: "full", HasOffset: true, Offset: 0x3000}) {
					t.Fatalf("got %+v, %v", c, err)
				}
			},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, g := range goldenCases() {
		t.Run(g.name, func(t *testing.T) {
			if got := g.encode(); !bytes.Equal(got, g.wire) {
				t.Fatalf("encoder wrote\n%x\nthe specification's layout is\n%x", got, g.wire)
			}
			g.decode(t, g.wire)
		})
	}
}

// The sizes the package exports match the layouts.
func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"OldstyleGreetingSize", protocol.OldstyleGreetingSize, 8 + 8 + 8 + 4 + 124},
		{"NewstyleGreetingSize", protocol.NewstyleGreetingSize, 8 + 8 + 2},
		{"OptionHeaderSize", protocol.OptionHeaderSize, 8 + 4 + 4},
		{"OptionReplyHeaderSize", protocol.OptionReplyHeaderSize, 8 + 4 + 4 + 4},
		{"ExportNameReplySize", protocol.ExportNameReplySize, 8 + 2},
		{"RequestHeaderSize", protocol.RequestHeaderSize, 4 + 2 + 2 + 8 + 8 + 4},
		{"ExtendedRequestSize", protocol.ExtendedRequestSize, 4 + 2 + 2 + 8 + 8 + 8},
		{"SimpleReplySize", protocol.SimpleReplySize, 4 + 4 + 8},
		{"StructuredReplySize", protocol.StructuredReplySize, 4 + 2 + 2 + 8 + 4},
		{"ExtendedReplySize", protocol.ExtendedReplySize, 4 + 2 + 2 + 8 + 8 + 8},
		{"BlockDescriptorSize", protocol.BlockDescriptorSize, 4 + 4},
		{"BlockDescriptorExtSize", protocol.BlockDescriptorExtSize, 8 + 8},
		{"RequestSize(false)", protocol.RequestSize(false), 28},
		{"RequestSize(true)", protocol.RequestSize(true), 32},
		{"ReplyHeaderSize(unknown)", protocol.ReplyHeaderSize(0x12345678), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// The constants have the specification's values (spelled out here from its text, not
// from the package).
func TestConstants(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"Magic", protocol.Magic, 0x4e42444d41474943},
		{"OldstyleMagic", protocol.OldstyleMagic, 0x00420281861253},
		{"OptMagic", protocol.OptMagic, 0x49484156454F5054},
		{"OptReplyMagic", protocol.OptReplyMagic, 0x3e889045565a9},
		{"RequestMagic", uint64(protocol.RequestMagic), 0x25609513},
		{"ExtendedRequestMagic", uint64(protocol.ExtendedRequestMagic), 0x21e41c71},
		{"SimpleReplyMagic", uint64(protocol.SimpleReplyMagic), 0x67446698},
		{"StructuredReplyMagic", uint64(protocol.StructuredReplyMagic), 0x668e33ef},
		{"ExtendedReplyMagic", uint64(protocol.ExtendedReplyMagic), 0x6e8a278c},
		{"FlagSendDF", uint64(protocol.FlagSendDF), 1 << 7},
		{"FlagCanMultiConn", uint64(protocol.FlagCanMultiConn), 1 << 8},
		{"FlagSendCache", uint64(protocol.FlagSendCache), 1 << 10},
		{"FlagSendFastZero", uint64(protocol.FlagSendFastZero), 1 << 11},
		{"FlagBlockStatusPayload", uint64(protocol.FlagBlockStatusPayload), 1 << 12},
		{"OptExtendedHeaders", uint64(protocol.OptExtendedHeaders), 11},
		{"RepErrBlockSizeReqd", uint64(protocol.RepErrBlockSizeReqd), 1<<31 + 8},
		{"RepErrExtHeaderReqd", uint64(protocol.RepErrExtHeaderReqd), 1<<31 + 10},
		{"CmdFlagPayloadLen", uint64(protocol.CmdFlagPayloadLen), 1 << 5},
		{"CmdResize", uint64(protocol.CmdResize), 8},
		{"ReplyTypeBlockStatusExt", uint64(protocol.ReplyTypeBlockStatusExt), 6},
		{"ReplyTypeErrorOffset", uint64(protocol.ReplyTypeErrorOffset), 1<<15 + 2},
		{"MaxStringLength", protocol.MaxStringLength, 4096},
		{"DefaultMaxPayload", protocol.DefaultMaxPayload, 1 << 25},
		{"MaxBlockStatusDescriptors", protocol.MaxBlockStatusDescriptors, 1 << 20},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	for r, want := range map[protocol.Rep]bool{
		protocol.RepAck: false, protocol.RepMetaContext: false, protocol.RepErrUnsup: true, protocol.RepErrExtHeaderReqd: true,
	} {
		if r.IsError() != want {
			t.Errorf("%v.IsError() = %v", r, !want)
		}
	}
	for rt, want := range map[protocol.ReplyType]bool{
		protocol.ReplyTypeNone: false, protocol.ReplyTypeBlockStatusExt: false, protocol.ReplyTypeError: true, protocol.ReplyTypeErrorOffset: true, 0x8123: true,
	} {
		if rt.IsError() != want {
			t.Errorf("%v.IsError() = %v", rt, !want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{protocol.OptGo.String(), "NBD_OPT_GO"},
		{protocol.OptExtendedHeaders.String(), "NBD_OPT_EXTENDED_HEADERS"},
		{protocol.Opt(0).String(), "NBD_OPT(0)"},
		{protocol.Opt(12).String(), "NBD_OPT(12)"},
		{protocol.Opt(1 << 31).String(), "NBD_OPT(2147483648)"},
		{protocol.RepErrTooBig.String(), "NBD_REP_ERR_TOO_BIG"},
		{protocol.Rep(5).String(), "NBD_REP(5)"},
		{protocol.CmdWriteZeroes.String(), "NBD_CMD_WRITE_ZEROES"},
		{protocol.CmdResize.String(), "NBD_CMD_RESIZE"},
		{protocol.Cmd(9).String(), "NBD_CMD(9)"},
		{protocol.Cmd(0xffff).String(), "NBD_CMD(65535)"},
		{protocol.InfoBlockSize.String(), "NBD_INFO_BLOCK_SIZE"},
		{protocol.Info(4).String(), "NBD_INFO(4)"},
		{protocol.ReplyTypeOffsetHole.String(), "NBD_REPLY_TYPE_OFFSET_HOLE"},
		{protocol.ReplyTypeErrorOffset.String(), "NBD_REPLY_TYPE_ERROR_OFFSET"},
		{protocol.ReplyType(3).String(), "NBD_REPLY_TYPE(3)"},
		{protocol.ENOSPC.String(), "ENOSPC"},
		{protocol.Errno(7).String(), "Errno(7)"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}
