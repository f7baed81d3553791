package server_test

// Regression tests of the security fixes nbdkit has shipped (man nbdkit-security, and
// the fixes of 1.34 and of CVE-2025-47711/47712), each against gonbd's engine. The TLS
// ones (CVE-2021-3716, the STARTTLS injection fix of 1.34) are in tls_test.go, and
// TestBlockStatusBounds (engine_replies_test.go) covers block status past the request
// or the export.

import (
	"context"
	"math"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// TestNoOpenBeforeExportChosen is the regression test of CVE-2019-14850: nbdkit opened
// the plugin before the client chose an export, so that clients that never did could
// make the server open backends at will. Options that do not choose an export must
// open nothing.
func TestNoOpenBeforeExportChosen(t *testing.T) {
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptList, nil, protocol.RepServer)
	c.expectOptReply(protocol.OptList, protocol.RepAck)
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
	c.sendOpt(protocol.OptListMetaContext, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{}))
	c.expectOptReply(protocol.OptListMetaContext, protocol.RepMetaContext)
	c.expectOptReply(protocol.OptListMetaContext, protocol.RepAck)
	c.option(protocol.Opt(99), []byte("?"), protocol.RepErrUnsup)
	c.option(protocol.OptAbort, nil, protocol.RepAck)
	c.expectClosed()
	for range 20 { // connect and vanish
		dialRaw(t, path).nc.Close()
	}
	checkServes(t, negotiate(t, path, negotiation{}))
	waitFor(t, "the handle to be counted", func() bool { return d.opens.Load() == 1 })
	if n := d.opens.Load(); n != 1 {
		t.Errorf("%d opens for one client that chose an export", n)
	}
}

// TestOptionsInAnyOrder is the regression test of CVE-2019-14851: an assertion failed
// in nbdkit when options came in an order it did not expect (INFO after a failed GO,
// meta contexts around failed selections). Every order must get the right replies and
// leave the handshake usable, with every handle opened on the way closed.
func TestOptionsInAnyOrder(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.refuse = map[string]bool{"missing": true}
	path := startServer(t, d.layer(), server.Options{})
	info := func(name string) []byte { return protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: name}) }
	meta := func(name string) []byte {
		return protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: name, Queries: []string{protocol.MetaContextBaseAllocation}})
	}
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptGo, info("missing"), protocol.RepErrUnknown)
	c.option(protocol.OptInfo, info("missing"), protocol.RepErrUnknown)
	c.option(protocol.OptSetMetaContext, meta(""), protocol.RepErrInvalid) // before structured replies
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
	c.structured = true
	c.option(protocol.OptSetMetaContext, meta("missing"), protocol.RepMetaContext)
	c.expectOptReply(protocol.OptSetMetaContext, protocol.RepAck)
	c.option(protocol.OptGo, info("missing"), protocol.RepErrUnknown)
	c.option(protocol.OptInfo, info(""), protocol.RepInfo)
	for h, _ := c.readOptReply(); h.Type != protocol.RepAck; h, _ = c.readOptReply() {
	}
	c.option(protocol.OptStructuredReply, nil, protocol.RepAck) // again: harmless
	c.option(protocol.OptSetMetaContext, meta(""), protocol.RepMetaContext)
	c.expectOptReply(protocol.OptSetMetaContext, protocol.RepAck)
	c.goExport("")
	if ds := c.blockStatus(c.do(protocol.Request{Type: protocol.CmdBlockStatus, Length: 4096}, nil)); len(ds) != 1 {
		t.Errorf("block status after a winding handshake: %+v", ds)
	}
	c.send(protocol.Request{Type: protocol.CmdDisc}, nil)
	c.expectClosed()
	waitFor(t, "every handle to close", func() bool { return d.closes.Load() == d.opens.Load() })
}

// TestRequestBoundsCannotOverflow sends requests whose offset plus length overflows 64
// bits, or reaches past the export by one byte, with extended headers (64-bit lengths):
// each is refused before any layer sees it, and the connection goes on.
func TestRequestBoundsCannotOverflow(t *testing.T) {
	const size = 1 << 20
	d := newTestDisk(size)
	path := startServer(t, d.layer(), server.Options{})
	c := negotiate(t, path, negotiation{extended: true, meta: true})
	for _, typ := range []protocol.Cmd{protocol.CmdRead, protocol.CmdWriteZeroes, protocol.CmdTrim,
		protocol.CmdCache, protocol.CmdBlockStatus} {
		for _, r := range []protocol.Request{
			{Offset: math.MaxUint64 - 511, Length: 1024},
			{Offset: 512, Length: math.MaxUint64},
			{Offset: math.MaxUint64, Length: 1},
			{Offset: size - 512, Length: 513},
			{Offset: size, Length: 1},
		} {
			r.Type = typ
			rep := c.do(r, nil)
			if rep.errno != protocol.EINVAL && rep.errno != protocol.ENOSPC {
				t.Errorf("%v at %d of %d bytes: %s, want EINVAL or ENOSPC", typ, r.Offset, r.Length, errnoOf(rep))
			}
		}
	}
	if n := d.dataCalls.Load(); n != 0 {
		t.Errorf("%d requests out of bounds reached the plugin", n)
	}
	checkServes(t, c)
}

// roundingFilter asks the layer below about a range grown to 4 GiB boundaries, as
// nbdkit's blocksize filter grew block status requests when CVE-2025-47712 overflowed
// its 32-bit length, and passes on what it hears.
type roundingFilter struct{ server.PassThrough }

type roundingHandle struct{ server.PassThroughHandle }

func (f roundingFilter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	return roundingHandle{server.PassThroughHandle{Next: h}}, err
}

func (h roundingHandle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	const align = 1 << 32
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	start, end := off/align*align, min((off+length+align-1)/align*align, size)
	wide := server.NewExtentList(start, end)
	if err := h.Next.Extents(ctx, start, end-start, flags, wide); err != nil {
		return err
	}
	for _, x := range wide.Extents() {
		if err := e.Add(x.Offset, x.Length, x.Type); err != nil {
			return err
		}
	}
	return nil
}

// TestBlockStatusOfGrownRequests is the regression test of CVE-2025-47711 and
// CVE-2025-47712: maximum-length block status requests near the end of a large export,
// through a layer that reports far more than was asked, get replies that describe the
// request's range and nothing more.
func TestBlockStatusOfGrownRequests(t *testing.T) {
	const size = 3<<32 + 4096
	d := newTestDisk(size)
	d.write(pattern(4096, 1), 2<<32)
	path := startServer(t, roundingFilter{server.PassThrough{Next: d.layer()}}, server.Options{})
	for _, n := range []negotiation{{structured: true, meta: true}, {extended: true, meta: true}} {
		c := negotiate(t, path, n)
		for _, r := range []protocol.Request{
			{Offset: size - math32, Length: math32},
			{Offset: 2<<32 - 1, Length: math32},
			{Offset: size - 1, Length: 1},
			{Offset: 1, Length: math32, Flags: protocol.CmdFlagReqOne},
		} {
			r.Type = protocol.CmdBlockStatus
			var total uint64
			for _, x := range c.blockStatus(c.do(r, nil)) {
				total += x.Length
			}
			if total == 0 || total > r.Length || (r.Flags == 0 && total != r.Length) {
				t.Errorf("extended=%v: block status at %d of %d bytes describes %d bytes", n.extended, r.Offset, r.Length, total)
			}
		}
	}
}
