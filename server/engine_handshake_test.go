package server_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

const fixedNoZeroes = protocol.ClientFixedNewstyle | protocol.ClientNoZeroes

// checkServes checks that the connection is in the transmission phase and served.
func checkServes(t *testing.T, c *rawConn) {
	t.Helper()
	if rep := c.do(protocol.Request{Type: protocol.CmdRead, Length: 512}, nil); rep.errno != 0 {
		t.Fatalf("read after the handshake: %s", errnoOf(rep))
	}
}

func TestHandshakeGreetingAndAbort(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{})
	c := dialRaw(t, path)
	if hf := c.greet(fixedNoZeroes); hf != protocol.HandshakeFixedNewstyle|protocol.HandshakeNoZeroes {
		t.Fatalf("handshake flags %#x", hf)
	}
	c.option(protocol.OptAbort, nil, protocol.RepAck)
	c.expectClosed()
}

func TestHandshakeMask(t *testing.T) {
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{MaskHandshake: protocol.HandshakeFixedNewstyle, MaskHandshakeSet: true})
	c := dialRaw(t, path)
	if hf := c.greet(protocol.ClientFixedNewstyle); hf != protocol.HandshakeFixedNewstyle {
		t.Fatalf("handshake flags %#x, want only FIXED_NEWSTYLE", hf)
	}
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)

	// NO_ZEROES was masked: a client asking for it is refused.
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.expectClosed()

	// Mask 0: a plain newstyle server; EXPORT_NAME still works.
	path = startServer(t, d.layer(), server.Options{MaskHandshakeSet: true})
	c = dialRaw(t, path)
	if hf := c.greet(0); hf != 0 {
		t.Fatalf("handshake flags %#x, want 0", hf)
	}
	c.sendOpt(protocol.OptExportName, nil)
	if size := binary.BigEndian.Uint64(c.read(10)); size != 1<<20 {
		t.Fatalf("size %d", size)
	}
	if z := c.read(protocol.ExportNameReplyZeroes); !bytes.Equal(z, make([]byte, 124)) {
		t.Fatalf("padding %x", z)
	}
	checkServes(t, c)
}

func TestHandshakeRefusesClients(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{MaxOptions: 3})
	t.Run("not fixed newstyle", func(t *testing.T) {
		c := dialRaw(t, path)
		c.greet(protocol.ClientNoZeroes)
		c.sendOpt(protocol.OptList, nil)
		c.expectClosed()
	})
	t.Run("unknown client flags", func(t *testing.T) {
		c := dialRaw(t, path)
		c.greet(fixedNoZeroes | 1<<5)
		c.expectClosed()
	})
	t.Run("option too long", func(t *testing.T) {
		c := dialRaw(t, path)
		c.greet(fixedNoZeroes)
		c.write(protocol.AppendOptionHeader(nil, protocol.OptGo, 64<<10+1))
		c.expectClosed()
	})
	t.Run("too many options", func(t *testing.T) {
		c := dialRaw(t, path)
		c.greet(fixedNoZeroes)
		var opts []byte // in one write: the server hangs up before reading the fourth
		for range 4 {
			opts = protocol.AppendOptionHeader(opts, protocol.OptPeekExport, 0)
		}
		c.write(opts)
		for range 3 {
			c.expectOptReply(protocol.OptPeekExport, protocol.RepErrUnsup)
		}
		c.expectClosed()
	})
	t.Run("export name after extended headers", func(t *testing.T) {
		c := dialRaw(t, path)
		c.greet(fixedNoZeroes)
		c.option(protocol.OptExtendedHeaders, nil, protocol.RepAck)
		c.sendOpt(protocol.OptExportName, nil)
		c.expectClosed()
	})
}

func TestHandshakeTimeout(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{HandshakeTimeout: 200 * time.Millisecond})
	c := dialRaw(t, path)
	c.read(protocol.NewstyleGreetingSize)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("silent client dropped after %v", d)
	}

	// One that talks too slowly is dropped too, even mid-option.
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.write(protocol.AppendOptionHeader(nil, protocol.OptGo, 100)[:10])
	c.expectClosed()
}

func TestHandshakeList(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.exports = []server.Export{{Name: "a", Description: "first"}, {Name: "b"}}
	path := startServer(t, d.layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptList, []byte{1}, protocol.RepErrInvalid)
	c.sendOpt(protocol.OptList, nil)
	for _, want := range d.exports {
		name, desc, err := protocol.DecodeServerReply(c.expectOptReply(protocol.OptList, protocol.RepServer))
		if err != nil || name != want.Name || desc != want.Description {
			t.Fatalf("server reply %q %q %v, want %q %q", name, desc, err, want.Name, want.Description)
		}
	}
	c.expectOptReply(protocol.OptList, protocol.RepAck)
	// Unknown options and STARTTLS are refused and the handshake goes on.
	c.option(protocol.Opt(4242), []byte("xyz"), protocol.RepErrUnsup)
	c.option(protocol.OptStartTLS, nil, protocol.RepErrPolicy)
	c.goExport("a")
	checkServes(t, c)
}

func TestHandshakeInfoThenGo(t *testing.T) {
	d := newTestDisk(3 << 20)
	d.description = "a test disk"
	d.block = server.BlockSize{Minimum: 512, Preferred: 4096, Maximum: 1 << 20}
	path := startServer(t, d.layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
	for range 2 { // INFO leaves the export negotiable
		c.sendOpt(protocol.OptInfo, protocol.AppendInfoRequest(nil, protocol.InfoRequest{
			Name: "disk", Infos: []protocol.Info{protocol.InfoName, protocol.InfoDescription, protocol.InfoBlockSize}}))
		got := map[protocol.Info]protocol.InfoReply{}
		for {
			h, p := c.readOptReply()
			if h.Type == protocol.RepAck {
				break
			}
			if h.Type != protocol.RepInfo {
				t.Fatalf("INFO reply %v %q", h.Type, p)
			}
			info, err := protocol.DecodeInfoReply(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := got[info.Type]; dup {
				t.Errorf("info %v sent twice", info.Type)
			}
			got[info.Type] = info
		}
		e := got[protocol.InfoExport]
		wantFlags := protocol.FlagHasFlags | protocol.FlagSendFlush | protocol.FlagSendFUA | protocol.FlagSendTrim |
			protocol.FlagSendWriteZeroes | protocol.FlagSendFastZero | protocol.FlagSendDF | protocol.FlagCanMultiConn | protocol.FlagSendCache
		if e.Size != 3<<20 || e.Flags != wantFlags {
			t.Errorf("export info: size %d flags %#x, want %d %#x", e.Size, e.Flags, 3<<20, wantFlags)
		}
		if got[protocol.InfoName].Name != "disk" || got[protocol.InfoDescription].Description != "a test disk" {
			t.Errorf("name %q description %q", got[protocol.InfoName].Name, got[protocol.InfoDescription].Description)
		}
		if bs := got[protocol.InfoBlockSize].BlockSize; bs != (protocol.BlockSizeInfo{Minimum: 512, Preferred: 4096, Maximum: 1 << 20}) {
			t.Errorf("block size %+v", bs)
		}
	}
	if n := d.opens.Load(); n != 2 || d.closes.Load() != 2 {
		t.Errorf("INFO opened %d handles and closed %d, want 2 and 2", n, d.closes.Load())
	}
	c.structured = true
	c.goExport("disk")
	checkServes(t, c)
}

func TestHandshakeGoRefused(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.refuse = map[string]bool{"secret": true}
	path := startServer(t, d.layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	h, msg := func() (protocol.OptionReplyHeader, []byte) {
		c.sendOpt(protocol.OptGo, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "secret"}))
		return c.readOptReply()
	}()
	if h.Opt != protocol.OptGo || !h.Type.IsError() {
		t.Fatalf("GO of a refused export: %v %q", h.Type, msg)
	}
	c.goExport("other")
	checkServes(t, c)
}

func TestHandshakeStructuredOptions(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStructuredReply, []byte{0}, protocol.RepErrInvalid)
	c.option(protocol.OptExtendedHeaders, []byte{0}, protocol.RepErrInvalid)
	meta := protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Queries: []string{protocol.MetaContextBaseAllocation}})
	c.option(protocol.OptSetMetaContext, meta, protocol.RepErrInvalid)
	c.option(protocol.OptListMetaContext, meta, protocol.RepErrInvalid)
	c.option(protocol.OptExtendedHeaders, nil, protocol.RepAck)
	c.option(protocol.OptStructuredReply, nil, protocol.RepErrExtHeaderReqd)
	c.structured, c.extended = true, true
	c.goExport("")
	checkServes(t, c)

	path = startServer(t, newTestDisk(1<<20).layer(), server.Options{NoStructuredReplies: true})
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStructuredReply, nil, protocol.RepErrUnsup)
	c.option(protocol.OptExtendedHeaders, nil, protocol.RepErrUnsup)
	c.goExport("")
	checkServes(t, c) // with a simple reply
}

func TestHandshakeListMetaContext(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
	for _, queries := range [][]string{nil, {"base:"}, {protocol.MetaContextBaseAllocation, "other:thing"}} {
		c.sendOpt(protocol.OptListMetaContext, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Queries: queries}))
		id, name, err := protocol.DecodeMetaContextReply(c.expectOptReply(protocol.OptListMetaContext, protocol.RepMetaContext))
		if err != nil || name != protocol.MetaContextBaseAllocation {
			t.Fatalf("queries %q: context %q %v", queries, name, err)
		}
		// The specification: "The metadata context ID in these replies is reserved and
		// SHOULD be set to zero".
		if id != 0 {
			t.Errorf("queries %q: LIST_META_CONTEXT reply with context ID %d, want 0", queries, id)
		}
		c.expectOptReply(protocol.OptListMetaContext, protocol.RepAck)
	}
	c.sendOpt(protocol.OptListMetaContext, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Queries: []string{"other:"}}))
	c.expectOptReply(protocol.OptListMetaContext, protocol.RepAck)
}

func TestHandshakeMetaContextNotSelected(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{})
	bs := protocol.Request{Type: protocol.CmdBlockStatus, Length: 4096}

	// An unknown context selects nothing.
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
	c.structured = true
	c.option(protocol.OptSetMetaContext, protocol.AppendMetaContextRequest(nil,
		protocol.MetaContextRequest{Queries: []string{"x-unknown:thing"}}), protocol.RepAck)
	c.goExport("")
	if rep := c.do(bs, nil); rep.errno != protocol.EINVAL {
		t.Errorf("block status without a context: %s, want EINVAL", errnoOf(rep))
	}
	checkServes(t, c)

	// Contexts set for export "a" do not carry over to "b".
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
	c.structured = true
	c.sendOpt(protocol.OptSetMetaContext, protocol.AppendMetaContextRequest(nil,
		protocol.MetaContextRequest{Name: "a", Queries: []string{protocol.MetaContextBaseAllocation}}))
	c.expectOptReply(protocol.OptSetMetaContext, protocol.RepMetaContext)
	c.expectOptReply(protocol.OptSetMetaContext, protocol.RepAck)
	c.goExport("b")
	if rep := c.do(bs, nil); rep.errno != protocol.EINVAL {
		t.Errorf("block status with contexts of another export: %s, want EINVAL", errnoOf(rep))
	}

	// And for the same export, they do.
	c = negotiate(t, path, negotiation{structured: true, meta: true, export: "a"})
	if ds := c.blockStatus(c.do(bs, nil)); len(ds) != 1 || ds[0].Length != 4096 {
		t.Errorf("block status: %+v", ds)
	}
}

func TestHandshakeExportName(t *testing.T) {
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{})
	for _, noZeroes := range []bool{false, true} {
		c := dialRaw(t, path)
		flags := protocol.ClientFixedNewstyle
		if noZeroes {
			flags |= protocol.ClientNoZeroes
		}
		c.greet(flags)
		c.sendOpt(protocol.OptExportName, []byte("name"))
		size, tflags, _ := protocol.DecodeExportNameReply(c.read(protocol.ExportNameReplySize))
		if size != 1<<20 || tflags&protocol.FlagHasFlags == 0 || tflags&protocol.FlagReadOnly != 0 {
			t.Errorf("export name reply: size %d flags %#x", size, tflags)
		}
		if !noZeroes {
			if z := c.read(protocol.ExportNameReplyZeroes); !bytes.Equal(z, make([]byte, protocol.ExportNameReplyZeroes)) {
				t.Errorf("padding %x", z)
			}
		}
		checkServes(t, c)
	}
}

func TestHandshakeOldstyle(t *testing.T) {
	d := newTestDisk(5 << 20)
	d.write([]byte("oldstyle"), 0)
	path := startServer(t, d.layer(), server.Options{Oldstyle: true, ReadOnly: true})
	c := dialRaw(t, path)
	g, err := protocol.DecodeOldstyleGreeting(c.read(protocol.OldstyleGreetingSize))
	if err != nil {
		t.Fatal(err)
	}
	if g.Size != 5<<20 || g.Flags&(protocol.FlagHasFlags|protocol.FlagReadOnly) != protocol.FlagHasFlags|protocol.FlagReadOnly {
		t.Fatalf("oldstyle greeting %+v", g)
	}
	if g.Flags&protocol.FlagSendDF != 0 {
		t.Errorf("oldstyle greeting offers DF without structured replies: %#x", g.Flags)
	}
	rep := c.do(protocol.Request{Type: protocol.CmdRead, Length: 8}, nil)
	if string(rep.data) != "oldstyle" {
		t.Fatalf("read %q", rep.data)
	}
}
