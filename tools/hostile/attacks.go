package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// An attack sends hostile bytes; it fails only when the server hangs or the attack
// cannot be carried out, since refusing and hanging up are the right answers.
type attack struct {
	name string
	run  func(a *attacker) error
}

func attacks() []attack {
	return []attack{
		{"malformed handshakes", malformedHandshakes},
		{"absurd lengths", absurdLengths},
		{"bad magic", badMagic},
		{"unknown commands", unknownCommands},
		{"truncated requests", truncatedRequests},
		{"connect/disconnect", connectCycles},
		{"random bytes", randomBytes},
	}
}

const fixedNoZeroes = protocol.ClientFixedNewstyle | protocol.ClientNoZeroes

// session is one raw connection.
type session struct {
	a        *attacker
	nc       net.Conn
	extended bool // extended headers were negotiated
}

func (a *attacker) dial() (*session, error) {
	nc, err := net.DialTimeout(a.network, a.address, connDeadline)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	nc.SetDeadline(time.Now().Add(connDeadline))
	a.conns++
	return &session{a: a, nc: nc}, nil
}

// greeted dials and reads the newstyle greeting.
func (a *attacker) greeted() (*session, error) {
	s, err := a.dial()
	if err != nil {
		return nil, err
	}
	var g [protocol.NewstyleGreetingSize]byte
	if _, err := io.ReadFull(s.nc, g[:]); err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("read the greeting: %w", err)
	}
	if _, err := protocol.DecodeNewstyleGreeting(g[:]); err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("the server must use the fixed newstyle handshake: %w", err)
	}
	return s, nil
}

// transmitting dials and completes a handshake with NBD_OPT_GO, with extended headers
// (when asked for and the server has them) or simple replies.
func (a *attacker) transmitting(extended bool) (*session, error) {
	s, err := a.greeted()
	if err != nil {
		return nil, err
	}
	b := protocol.AppendClientFlags(nil, fixedNoZeroes)
	if extended {
		b = protocol.AppendOptionHeader(b, protocol.OptExtendedHeaders, 0)
	}
	info := protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: a.export})
	b = append(protocol.AppendOptionHeader(b, protocol.OptGo, uint32(len(info))), info...)
	if _, err := s.nc.Write(b); err != nil {
		s.nc.Close()
		return nil, err
	}
	for goAcked := false; !goAcked; {
		var hb [protocol.OptionReplyHeaderSize]byte
		if _, err := io.ReadFull(s.nc, hb[:]); err != nil {
			s.nc.Close()
			return nil, fmt.Errorf("handshake: %w", err)
		}
		h, err := protocol.DecodeOptionReplyHeader(hb[:], 1<<20)
		if err != nil {
			s.nc.Close()
			return nil, fmt.Errorf("handshake: %w", err)
		}
		if _, err := io.CopyN(io.Discard, s.nc, int64(h.Length)); err != nil {
			s.nc.Close()
			return nil, fmt.Errorf("handshake: %w", err)
		}
		switch {
		case h.Opt == protocol.OptExtendedHeaders:
			s.extended = h.Type == protocol.RepAck // a server without them goes on compact
		case h.Type.IsError():
			s.nc.Close()
			return nil, fmt.Errorf("handshake: %v refused with %v", h.Opt, h.Type)
		}
		goAcked = h.Opt == protocol.OptGo && h.Type == protocol.RepAck
	}
	return s, nil
}

// finish sends b, stops sending and reads whatever the server answers until it hangs
// up: a server that keeps the connection open after the client's last byte is hung.
func (s *session) finish(b []byte) error {
	defer s.nc.Close()
	// The server may hang up before reading everything: a failed write is fine.
	s.nc.Write(b)
	if cw, ok := s.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	_, err := io.Copy(io.Discard, s.nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("the server neither answered nor hung up within %v of the client's last byte", connDeadline)
	}
	return nil
}

// abandon sends b and disconnects at once.
func (s *session) abandon(b []byte) {
	s.nc.Write(b)
	s.nc.Close()
}

func option(b []byte, opt protocol.Opt, payload []byte) []byte {
	return append(protocol.AppendOptionHeader(b, opt, uint32(len(payload))), payload...)
}

func flags(f protocol.ClientFlags) []byte { return protocol.AppendClientFlags(nil, f) }

// handshakes runs each byte sequence after the greeting.
func (a *attacker) afterGreeting(seqs ...[]byte) error {
	for _, b := range seqs {
		s, err := a.greeted()
		if err != nil {
			return err
		}
		if err := s.finish(b); err != nil {
			return err
		}
	}
	return nil
}

func malformedHandshakes(a *attacker) error {
	badOption := append(flags(fixedNoZeroes), []byte("IHAVEOPX")...)
	badOption = append(badOption, make([]byte, 8)...)
	return a.afterGreeting(
		flags(1<<31|fixedNoZeroes),              // unknown client flags
		option(flags(0), protocol.OptList, nil), // LIST without fixed newstyle
		option(flags(protocol.ClientNoZeroes), protocol.OptGo, nil),
		badOption, // bad option magic
		protocol.AppendOptionHeader(flags(fixedNoZeroes), protocol.OptGo, 100)[:10], // header cut short
		append(flags(fixedNoZeroes), []byte("garbage, then more garbage")...),
		option(option(flags(fixedNoZeroes), protocol.OptStartTLS, []byte{1}), protocol.OptStartTLS, nil),
		option(flags(fixedNoZeroes), protocol.OptInfo, []byte{0, 0}),                      // INFO too short
		option(flags(fixedNoZeroes), protocol.OptSetMetaContext, []byte{0, 0, 0, 9, 'x'}), // name cut short
		nil,
	)
}

func absurdLengths(a *attacker) error {
	be := func(n uint32) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }
	longName := make([]byte, 1<<16)
	err := a.afterGreeting(
		protocol.AppendOptionHeader(flags(fixedNoZeroes), protocol.OptGo, math.MaxUint32),
		protocol.AppendOptionHeader(flags(fixedNoZeroes), protocol.OptExportName, 1<<30),
		option(flags(fixedNoZeroes), protocol.OptGo, append(be(math.MaxUint32), 0, 0)), // name longer than the option
		option(flags(fixedNoZeroes), protocol.OptGo, append(be(0), 0xff, 0xff)),        // 65535 infos, none sent
		option(flags(fixedNoZeroes), protocol.OptExportName, longName),
		option(option(flags(fixedNoZeroes), protocol.OptStructuredReply, nil), protocol.OptSetMetaContext,
			append(append(be(0), be(math.MaxUint32)...), 'b')), // huge query count
		option(option(flags(fixedNoZeroes), protocol.OptStructuredReply, nil), protocol.OptListMetaContext,
			append(append(be(0), be(1)...), be(math.MaxUint32)...)), // query longer than the option
	)
	if err != nil {
		return err
	}
	for _, extended := range []bool{false, true} {
		for _, r := range []protocol.Request{
			{Type: protocol.CmdWrite, Offset: attackArea, Length: math.MaxUint32},
			{Type: protocol.CmdRead, Offset: 0, Length: math.MaxUint32},
			{Type: protocol.CmdRead, Offset: math.MaxUint64 - 4095, Length: 8192},
			{Type: protocol.CmdBlockStatus, Offset: 0, Length: math.MaxUint32},
			{Type: protocol.CmdWriteZeroes, Offset: attackArea, Length: math.MaxUint64},
			{Type: protocol.CmdTrim, Offset: math.MaxUint64, Length: math.MaxUint64},
			{Type: protocol.CmdCache, Offset: 0, Length: math.MaxUint64},
			{Type: protocol.CmdWrite, Offset: attackArea, Length: 1 << 63, Flags: protocol.CmdFlagPayloadLen},
		} {
			s, err := a.transmitting(extended)
			if err != nil {
				return err
			}
			if !s.extended && r.Length > math.MaxUint32 {
				s.nc.Close()
				continue
			}
			if err := s.finish(protocol.AppendRequest(nil, &r, s.extended)); err != nil {
				return fmt.Errorf("%v of %d bytes at %d: %w", r.Type, r.Length, r.Offset, err)
			}
		}
	}
	return nil
}

func badMagic(a *attacker) error {
	r := protocol.Request{Type: protocol.CmdRead, Length: 512}
	for _, extended := range []bool{false, true} {
		s, err := a.transmitting(extended)
		if err != nil {
			return err
		}
		b := protocol.AppendRequest(nil, &r, s.extended)
		b[0] ^= 0xff
		if err := s.finish(b); err != nil {
			return err
		}
	}
	// The option magic, once the handshake has started well.
	b := option(flags(fixedNoZeroes), protocol.OptStructuredReply, nil)
	b = append(b, option(nil, protocol.OptList, nil)...)
	b[len(b)-16] ^= 0xff
	return a.afterGreeting(b)
}

func unknownCommands(a *attacker) error {
	err := a.afterGreeting(
		option(option(flags(fixedNoZeroes), protocol.Opt(0x7fffffff), []byte("?")), protocol.Opt(0), nil),
		option(flags(fixedNoZeroes), protocol.Opt(0xffffffff), nil),
	)
	if err != nil {
		return err
	}
	var b []byte
	for i, r := range []protocol.Request{
		{Type: protocol.Cmd(0xffff), Length: 1},
		{Type: protocol.Cmd(12), Length: 512},
		{Type: protocol.CmdRead, Length: 512, Flags: 0xffff},
		{Type: protocol.CmdFlush, Offset: 1, Length: 1},
		{Type: protocol.CmdRead, Length: 0},
		{Type: protocol.CmdWrite, Offset: attackArea, Length: 512, Flags: protocol.CmdFlagPayloadLen},
	} {
		r.Cookie = uint64(i)
		b = protocol.AppendRequest(b, &r, false)
		if r.Type == protocol.CmdWrite {
			b = append(b, make([]byte, r.Length)...)
		}
	}
	s, err := a.transmitting(false)
	if err != nil {
		return err
	}
	return s.finish(b)
}

func truncatedRequests(a *attacker) error {
	w := protocol.Request{Type: protocol.CmdWrite, Offset: attackArea, Length: 64 << 10}
	full := append(protocol.AppendRequest(nil, &w, false), make([]byte, w.Length)...)
	for _, cut := range []int{1, protocol.RequestSize(false) - 1, protocol.RequestSize(false), protocol.RequestSize(false) + 1, len(full) - 1} {
		s, err := a.transmitting(false)
		if err != nil {
			return err
		}
		if err := s.finish(full[:cut]); err != nil {
			return err
		}
		s, err = a.transmitting(false)
		if err != nil {
			return err
		}
		s.abandon(full[:cut])
	}
	return nil
}

// connectCycles connects and disconnects, stopping at every stage of the handshake in
// turn.
func connectCycles(a *attacker) error {
	info := protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: a.export})
	goOpt := option(flags(fixedNoZeroes), protocol.OptGo, info)
	for i := range a.cycles {
		switch i % 5 {
		case 0:
			s, err := a.dial()
			if err != nil {
				return err
			}
			s.nc.Close()
		case 1:
			s, err := a.greeted()
			if err != nil {
				return err
			}
			s.nc.Close()
		case 2:
			s, err := a.greeted()
			if err != nil {
				return err
			}
			s.abandon(goOpt[:4+i%(len(goOpt)-4)])
		case 3:
			s, err := a.greeted()
			if err != nil {
				return err
			}
			s.abandon(goOpt)
		case 4:
			s, err := a.transmitting(i%2 == 0)
			if err != nil {
				return err
			}
			s.nc.Close()
		}
	}
	return nil
}

// randomBytes sends seeded random sequences, raw after the greeting or after a complete
// handshake, sometimes starting with valid client flags so that they reach the options.
func randomBytes(a *attacker) error {
	rng := rand.New(rand.NewPCG(a.seed, 0x686f7374696c65))
	for i := range a.random {
		b := make([]byte, 1+rng.IntN(512))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		var s *session
		var err error
		switch i % 3 {
		case 0:
			s, err = a.greeted()
		case 1:
			s, err = a.greeted()
			b = append(flags(fixedNoZeroes), b...)
			if len(b) >= 12 && rng.IntN(2) == 0 {
				copy(b[4:12], "IHAVEOPT") // a valid option magic, random option
			}
		case 2:
			s, err = a.transmitting(rng.IntN(2) == 0)
		}
		if err != nil {
			return fmt.Errorf("sequence %d: %w", i, err)
		}
		if err := s.finish(b); err != nil {
			return fmt.Errorf("sequence %d (%x): %w", i, b, err)
		}
		if a.verbose && i%500 == 499 {
			fmt.Fprintf(a.log, "hostile: %d random sequences sent\n", i+1)
		}
	}
	return nil
}
