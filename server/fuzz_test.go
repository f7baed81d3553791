package server_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// FuzzServe drives the engine's handshake and transmission state machines with
// arbitrary client bytes (everything after the server's greeting) on a real
// connection. Whatever the bytes, the server must neither panic nor hang: once the
// client stops sending, it answers what it read and closes, and it serves the next
// client. go test runs the seeds; make fuzz explores from them.
func FuzzServe(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	d := newTestDisk(1 << 20)
	d.exports = []server.Export{{Name: ""}, {Name: "b", Description: "second"}}
	// Small limits keep each input's memory and time small.
	path := startServer(f, d.layer(), server.Options{MaxPayload: 64 << 10, MaxOptions: 64, HandshakeTimeout: 5 * time.Second})
	f.Fuzz(func(t *testing.T, input []byte) {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(testTimeout))
		done := make(chan error, 1)
		go func() { // the server may stop reading early: never block the reader on it
			_, err := nc.Write(input)
			nc.(*net.UnixConn).CloseWrite()
			done <- err
		}()
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("the server did not close the connection after the client's last byte: %v", err)
		}
		<-done
		checkServes(t, negotiate(t, path, negotiation{structured: true}))
	})
}

// fuzzSeeds returns client byte streams that reach every state: the options of the
// specification, each command in simple, structured and extended replies, and some
// broken ones.
func fuzzSeeds() [][]byte {
	flags := protocol.AppendClientFlags(nil, protocol.ClientFixedNewstyle|protocol.ClientNoZeroes)
	opt := func(b []byte, o protocol.Opt, payload []byte) []byte {
		return append(protocol.AppendOptionHeader(b, o, uint32(len(payload))), payload...)
	}
	info := protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "", Infos: []protocol.Info{protocol.InfoName, protocol.InfoDescription, protocol.InfoBlockSize}})
	meta := protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Queries: []string{protocol.MetaContextBaseAllocation}})
	requests := func(b []byte, extended bool) []byte {
		for i, r := range []protocol.Request{
			{Type: protocol.CmdWrite, Offset: 4096, Length: 512},
			{Type: protocol.CmdRead, Offset: 4096, Length: 512},
			{Type: protocol.CmdRead, Offset: 0, Length: 64 << 10, Flags: protocol.CmdFlagDF},
			{Type: protocol.CmdFlush},
			{Type: protocol.CmdTrim, Offset: 0, Length: 8192},
			{Type: protocol.CmdWriteZeroes, Offset: 8192, Length: 8192, Flags: protocol.CmdFlagNoHole},
			{Type: protocol.CmdBlockStatus, Offset: 0, Length: 1 << 20},
			{Type: protocol.CmdCache, Offset: 0, Length: 4096},
			{Type: protocol.Cmd(99), Offset: 0, Length: 1},
			{Type: protocol.CmdRead, Offset: 1<<20 - 1, Length: 2},
		} {
			r.Cookie = uint64(i + 1)
			b = protocol.AppendRequest(b, &r, extended)
			if r.Type == protocol.CmdWrite {
				b = append(b, make([]byte, r.Length)...)
			}
		}
		disc := protocol.Request{Type: protocol.CmdDisc, Cookie: 99}
		return protocol.AppendRequest(b, &disc, extended)
	}

	var seeds [][]byte
	simple := opt(append([]byte(nil), flags...), protocol.OptGo, info)
	seeds = append(seeds, requests(simple, false))
	structured := opt(append([]byte(nil), flags...), protocol.OptStructuredReply, nil)
	structured = opt(structured, protocol.OptSetMetaContext, meta)
	structured = opt(structured, protocol.OptGo, info)
	seeds = append(seeds, requests(structured, false))
	extended := opt(append([]byte(nil), flags...), protocol.OptExtendedHeaders, nil)
	extended = opt(extended, protocol.OptSetMetaContext, meta)
	extended = opt(extended, protocol.OptGo, info)
	seeds = append(seeds, requests(extended, true))

	winding := append([]byte(nil), flags...)
	for _, o := range []struct {
		o protocol.Opt
		p []byte
	}{
		{protocol.OptList, nil}, {protocol.OptInfo, info}, {protocol.OptListMetaContext, meta},
		{protocol.OptStartTLS, nil}, {protocol.Opt(1234), []byte("x")}, {protocol.OptExportName, []byte("b")},
	} {
		winding = opt(winding, o.o, o.p)
	}
	seeds = append(seeds, requests(winding, false))
	seeds = append(seeds,
		nil,
		flags,
		append(append([]byte(nil), flags...), protocol.AppendOptionHeader(nil, protocol.OptGo, 1<<30)...),
		append(append([]byte(nil), flags...), []byte("IHAVEOPTgarbage after the magic")...),
		opt(append([]byte(nil), flags...), protocol.OptAbort, nil),
	)
	return seeds
}
