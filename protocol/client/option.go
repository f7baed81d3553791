package client

import (
	"errors"
	"fmt"
	"io"

	"github.com/gonbd/gonbd/protocol"
)

// maxOptionReply bounds the payload of an option reply. The longest legitimate one, an
// NBD_REP_SERVER with a name and a description of the maximum string length, is a little
// over 8 KiB.
const maxOptionReply = 64 << 10

// simpleOption sends an option without payload whose only reply is an
// acknowledgement or an error.
func (n *Negotiator) simpleOption(opt protocol.Opt) error {
	if err := n.sendOption(opt, nil); err != nil {
		return err
	}
	h, p, err := n.readReply(opt)
	switch {
	case err != nil:
		return err
	case h.Type == protocol.RepAck:
		return nil
	case h.Type.IsError():
		return optionError(h, p)
	default:
		return n.fail(protocolErrorf("%v reply to %v", h.Type, opt))
	}
}

func (n *Negotiator) sendOption(opt protocol.Opt, payload []byte) error {
	b := protocol.AppendOptionHeader(make([]byte, 0, protocol.OptionHeaderSize+len(payload)), opt, uint32(len(payload)))
	if err := n.write(append(b, payload...)); err != nil {
		return fmt.Errorf("nbd: sending %v: %w", opt, err)
	}
	return nil
}

// readReply reads one reply to opt, checking that it answers opt.
func (n *Negotiator) readReply(opt protocol.Opt) (protocol.OptionReplyHeader, []byte, error) {
	var b [protocol.OptionReplyHeaderSize]byte
	if err := n.read(b[:]); err != nil {
		return protocol.OptionReplyHeader{}, nil, fmt.Errorf("nbd: reading the reply to %v: %w", opt, err)
	}
	h, err := protocol.DecodeOptionReplyHeader(b[:], maxOptionReply)
	if err != nil {
		return h, nil, n.fail(err)
	}
	if h.Opt != opt {
		return h, nil, n.fail(protocolErrorf("reply to %v while waiting for one to %v", h.Opt, opt))
	}
	p := make([]byte, h.Length)
	if err := n.read(p); err != nil {
		return h, nil, fmt.Errorf("nbd: reading the reply to %v: %w", opt, err)
	}
	return h, p, nil
}

func optionError(h protocol.OptionReplyHeader, payload []byte) error {
	return &OptionError{Option: h.Opt, Reply: h.Type, Message: string(payload)}
}

func (n *Negotiator) read(p []byte) error {
	if _, err := io.ReadFull(n.nc, p); err != nil {
		return n.fail(err)
	}
	return nil
}

func (n *Negotiator) write(p []byte) error {
	if _, err := n.nc.Write(p); err != nil {
		return n.fail(err)
	}
	return nil
}

// fail records an error after which the negotiation cannot go on, and returns it.
func (n *Negotiator) fail(err error) error {
	if n.err == nil {
		n.err = err
	}
	return err
}

func (n *Negotiator) usable() error {
	if n.done {
		return errors.New("nbd: the negotiation is over")
	}
	if n.err != nil {
		return fmt.Errorf("nbd: the negotiation failed earlier: %w", n.err)
	}
	return nil
}

// canSendOptions checks that the negotiation is usable and the server takes options.
func (n *Negotiator) canSendOptions(opt protocol.Opt) error {
	if err := n.usable(); err != nil {
		return err
	}
	switch {
	case n.oldstyle:
		return fmt.Errorf("nbd: %v is impossible: the server uses the oldstyle handshake, which has no options", opt)
	case !n.fixedNewstyle:
		return fmt.Errorf("nbd: %v is impossible: the server does not speak fixed newstyle", opt)
	}
	return nil
}
