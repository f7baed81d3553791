package client_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
)

// Scripted servers, for what real servers do not do: lack NBD_OPT_GO, or break the
// protocol.

// fakeServer runs script on the server end of a pipe and returns the client end.
func fakeServer(t *testing.T, script func(s *scripted) error) net.Conn {
	cc, sc := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		if err := script(&scripted{sc}); err != nil {
			t.Errorf("fake server: %v", err)
		}
	}()
	t.Cleanup(func() {
		cc.Close()
		<-done
	})
	return cc
}

type scripted struct{ net.Conn }

func (s *scripted) greet(flags protocol.HandshakeFlags) error {
	if _, err := s.Write(protocol.AppendNewstyleGreeting(nil, flags)); err != nil {
		return err
	}
	_, err := io.ReadFull(s, make([]byte, 4))
	return err
}

// expectOption reads an option and checks its type.
func (s *scripted) expectOption(want protocol.Opt) ([]byte, error) {
	var b [protocol.OptionHeaderSize]byte
	if _, err := io.ReadFull(s, b[:]); err != nil {
		return nil, err
	}
	h, err := protocol.DecodeOptionHeader(b[:], 1<<16)
	if err != nil {
		return nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(s, p); err != nil {
		return nil, err
	}
	if h.Opt != want {
		return nil, errors.New("got " + h.Opt.String() + ", want " + want.String())
	}
	return p, nil
}

func (s *scripted) reply(opt protocol.Opt, rep protocol.Rep, payload []byte) error {
	_, err := s.Write(append(protocol.AppendOptionReplyHeader(nil, opt, rep, uint32(len(payload))), payload...))
	return err
}

// answer reads an option of type opt and replies to it with rep.
func (s *scripted) answer(opt protocol.Opt, rep protocol.Rep) error {
	if _, err := s.expectOption(opt); err != nil {
		return err
	}
	return s.reply(opt, rep, nil)
}

func (s *scripted) request() (protocol.Request, error) {
	var b [protocol.RequestHeaderSize]byte
	var r protocol.Request
	if _, err := io.ReadFull(s, b[:]); err != nil {
		return r, err
	}
	return r, protocol.DecodeRequest(b[:], false, &r)
}

func (s *scripted) chunk(flags protocol.ReplyFlags, t protocol.ReplyType, cookie uint64, payload []byte) error {
	_, err := s.Write(append(protocol.AppendChunkHeader(nil, false, flags, t, cookie, 0, uint64(len(payload))), payload...))
	return err
}

func TestFallbackToExportNameAndSimpleReplies(t *testing.T) {
	ctx := testContext(t)
	data := bytes.Repeat([]byte("nbd!"), 128)
	nc := fakeServer(t, func(s *scripted) error {
		if err := s.greet(protocol.HandshakeFixedNewstyle | protocol.HandshakeNoZeroes); err != nil {
			return err
		}
		for _, opt := range []protocol.Opt{protocol.OptExtendedHeaders, protocol.OptStructuredReply, protocol.OptGo} {
			if err := s.answer(opt, protocol.RepErrUnsup); err != nil {
				return err
			}
		}
		name, err := s.expectOption(protocol.OptExportName)
		if err != nil {
			return err
		}
		if string(name) != "legacy" {
			return errors.New("export name " + string(name))
		}
		flags := protocol.FlagHasFlags | protocol.FlagSendFlush
		if _, err := s.Write(protocol.AppendExportNameReply(nil, 1<<20, flags, true)); err != nil {
			return err
		}
		r, err := s.request()
		if err != nil || r.Type != protocol.CmdRead || r.Length != uint64(len(data)) {
			return errors.New("no read request")
		}
		if _, err := s.Write(append(protocol.AppendSimpleReply(nil, 0, r.Cookie), data...)); err != nil {
			return err
		}
		if r, err = s.request(); err != nil || r.Type != protocol.CmdDisc {
			return errors.New("no NBD_CMD_DISC")
		}
		return nil
	})

	c, err := client.NewConn(ctx, nc, &client.Options{ExportName: "legacy"})
	if err != nil {
		t.Fatalf("NewConn: %v", err)
	}
	if c.Size() != 1<<20 || c.StructuredReplies() || c.ExtendedHeaders() || c.ExportName() != "legacy" {
		t.Errorf("size %d, structured %v, extended %v, name %q", c.Size(), c.StructuredReplies(), c.ExtendedHeaders(), c.ExportName())
	}
	got := make([]byte, len(data))
	if err := c.ReadAt(ctx, got, 0, 0); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadAt: %v, data equal %v", err, bytes.Equal(got, data))
	}
	if err := c.Trim(ctx, 0, 512, 0); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Trim without FlagSendTrim: %v, want errors.ErrUnsupported", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestServerProtocolViolations(t *testing.T) {
	ctx := testContext(t)
	const contextID = 7
	nc := fakeServer(t, func(s *scripted) error {
		if err := s.greet(protocol.HandshakeFixedNewstyle); err != nil {
			return err
		}
		if err := s.answer(protocol.OptExtendedHeaders, protocol.RepErrUnsup); err != nil {
			return err
		}
		if err := s.answer(protocol.OptStructuredReply, protocol.RepAck); err != nil {
			return err
		}
		if _, err := s.expectOption(protocol.OptSetMetaContext); err != nil {
			return err
		}
		s.reply(protocol.OptSetMetaContext, protocol.RepMetaContext, protocol.AppendMetaContextReply(nil, contextID, "base:allocation"))
		s.reply(protocol.OptSetMetaContext, protocol.RepAck, nil)
		if _, err := s.expectOption(protocol.OptGo); err != nil {
			return err
		}
		s.reply(protocol.OptGo, protocol.RepInfo, protocol.AppendInfoExport(nil, 1<<20, protocol.FlagHasFlags))
		s.reply(protocol.OptGo, protocol.RepAck, nil)

		// 1: a read fails at an offset, with a message.
		r, err := s.request()
		if err != nil {
			return err
		}
		s.chunk(protocol.ReplyFlagDone, protocol.ReplyTypeErrorOffset, r.Cookie,
			protocol.AppendErrorChunk(nil, protocol.EIO, "bad sector", true, 256))

		// 2: block status whose descriptors go past the request before the last.
		if r, err = s.request(); err != nil {
			return err
		}
		bs := protocol.AppendBlockStatusHeader(nil, false, contextID, 0)
		bs = protocol.AppendBlockDescriptor(bs, false, protocol.BlockDescriptor{Length: 8192})
		bs = protocol.AppendBlockDescriptor(bs, false, protocol.BlockDescriptor{Length: 4096})
		s.chunk(0, protocol.ReplyTypeBlockStatus, r.Cookie, bs)
		s.chunk(protocol.ReplyFlagDone, protocol.ReplyTypeNone, r.Cookie, nil)

		// 3: a chunk of a type nobody defined: the client must hang up.
		if r, err = s.request(); err != nil {
			return err
		}
		s.chunk(protocol.ReplyFlagDone, 99, r.Cookie, nil)
		io.Copy(io.Discard, s) // until the client closes
		return nil
	})

	c, err := client.NewConn(ctx, nc, nil)
	if err != nil {
		t.Fatalf("NewConn: %v", err)
	}
	defer c.Close()
	if c.MetaContexts()["base:allocation"] != contextID {
		t.Errorf("MetaContexts() = %v", c.MetaContexts())
	}

	err = c.ReadAt(ctx, make([]byte, 512), 0, 0)
	var se *client.ServerError
	if !errors.As(err, &se) || se.Errno != protocol.EIO || se.Message != "bad sector" || !se.HasOffset || se.Offset != 256 {
		t.Errorf("ReadAt: %#v, want EIO at 256 with a message", err)
	}
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("errors.Is(%v, syscall.EIO) = false", err)
	}

	called := false
	err = c.BlockStatus(ctx, 0, 4096, 0, func(string, []protocol.BlockDescriptor) error { called = true; return nil })
	var pe *client.ProtocolError
	if !errors.As(err, &pe) || called || errors.Is(err, client.ErrDisconnected) {
		t.Errorf("BlockStatus with bad descriptors: %v (fn called %v), want a *ProtocolError for the request alone", err, called)
	}

	err = c.ReadAt(ctx, make([]byte, 512), 0, 0)
	if !errors.Is(err, client.ErrDisconnected) || !errors.As(err, &pe) {
		t.Errorf("ReadAt answered with an unknown chunk type: %v, want ErrDisconnected and a *ProtocolError", err)
	}
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); !errors.Is(err, client.ErrDisconnected) {
		t.Errorf("request after the disconnect: %v, want ErrDisconnected", err)
	}
}

func TestServerShutdownLeadsToSoftDisconnect(t *testing.T) {
	ctx := testContext(t)
	sawDisc := make(chan bool, 1)
	nc := fakeServer(t, func(s *scripted) error {
		if err := s.greet(protocol.HandshakeFixedNewstyle | protocol.HandshakeNoZeroes); err != nil {
			return err
		}
		for _, opt := range []protocol.Opt{protocol.OptExtendedHeaders, protocol.OptStructuredReply} {
			if err := s.answer(opt, protocol.RepErrUnsup); err != nil {
				return err
			}
		}
		if _, err := s.expectOption(protocol.OptGo); err != nil {
			return err
		}
		s.reply(protocol.OptGo, protocol.RepInfo, protocol.AppendInfoExport(nil, 1<<20, protocol.FlagHasFlags|protocol.FlagSendFlush))
		s.reply(protocol.OptGo, protocol.RepAck, nil)
		r, err := s.request()
		if err != nil {
			return err
		}
		s.Write(protocol.AppendSimpleReply(nil, protocol.ESHUTDOWN, r.Cookie))
		r, err = s.request()
		sawDisc <- err == nil && r.Type == protocol.CmdDisc
		return nil
	})

	c, err := client.NewConn(ctx, nc, nil)
	if err != nil {
		t.Fatalf("NewConn: %v", err)
	}
	defer c.Close()
	if err := c.Flush(ctx, 0); !errors.Is(err, syscall.ESHUTDOWN) {
		t.Errorf("Flush: %v, want ESHUTDOWN", err)
	}
	if !<-sawDisc {
		t.Error("no NBD_CMD_DISC after NBD_ESHUTDOWN")
	}
	if err := c.Flush(ctx, 0); !errors.Is(err, client.ErrDisconnected) {
		t.Errorf("Flush after NBD_ESHUTDOWN: %v, want ErrDisconnected", err)
	}
}
