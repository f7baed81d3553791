package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/gonbd/gonbd/protocol"
)

// maxKeptScratch bounds the chunk payload buffer the reader keeps between replies.
const maxKeptScratch = 1 << 20

// readLoop is the connection's only reader: it reads every reply and hands it to the
// request it answers. When the connection fails it fails every pending request.
func (c *Conn) readLoop() {
	defer close(c.readerDone)
	var err error
	for err == nil {
		if err = c.readReplyHeader(); err == nil {
			err = c.dispatch()
		}
	}
	c.failAll(err)
}

// failAll ends the connection after the reader stopped with err, failing every
// pending request.
func (c *Conn) failAll(err error) {
	if errors.Is(err, io.EOF) {
		err = errors.New("the server closed the connection")
	}
	c.mu.Lock()
	c.broken = true
	switch {
	case c.closed:
		err = ErrClosed
	case c.err != nil && !errors.Is(c.err, ErrClosed):
		// The first cause (a failed write, a server shutting down) says more than
		// the read error it caused.
		err = c.err
	default:
		err = disconnected(err)
	}
	if c.err == nil {
		c.err = err
	}
	for cookie, cl := range c.pending {
		delete(c.pending, cookie)
		cl.err = err
		cl.completed = true
		<-c.slots
		if !cl.abandoned {
			cl.done <- struct{}{}
		}
	}
	c.signalIdle()
	c.mu.Unlock()
	c.nc.Close()
}

// readReplyHeader reads the next reply header into c.reply, checking that its kind is
// one the negotiation allows.
func (c *Conn) readReplyHeader() error {
	b, err := c.br.Peek(4)
	if err != nil {
		return err
	}
	magic := binary.BigEndian.Uint32(b)
	var ok bool
	switch {
	case c.extended:
		ok = magic == protocol.ExtendedReplyMagic
	case c.structured:
		// Both kinds may come: the magic tells the size.
		ok = magic == protocol.SimpleReplyMagic || magic == protocol.StructuredReplyMagic
	default:
		ok = magic == protocol.SimpleReplyMagic
	}
	if !ok {
		return protocolErrorf("reply with magic %#x, which the negotiated headers do not allow", magic)
	}
	n := protocol.ReplyHeaderSize(magic)
	if b, err = c.br.Peek(n); err != nil {
		return unexpectedEOF(err)
	}
	// Payload lengths are checked by type in dispatch: read data is bounded by the
	// request, the rest by c.maxPayload.
	if err := protocol.DecodeReplyHeader(b, math.MaxUint64, &c.reply); err != nil {
		return err
	}
	c.br.Discard(n)
	return nil
}

// dispatch handles the reply in c.reply. An error means the stream cannot be followed
// any more; a reply that is wrong but can be skipped fails its request only.
func (c *Conn) dispatch() error {
	h := &c.reply
	c.mu.Lock()
	cl := c.pending[h.Cookie]
	c.mu.Unlock()
	if cl == nil {
		// Without the request we cannot know the length of a simple reply, and a
		// server that invents cookies cannot be trusted with the rest.
		return protocolErrorf("reply with unknown cookie %#x", h.Cookie)
	}
	if h.Magic == protocol.SimpleReplyMagic {
		return c.simpleReply(h, cl)
	}
	if c.extended && h.Offset != cl.offset {
		cl.setErr(protocolErrorf("%v reply for offset %d to a request at %d", h.Type, h.Offset, cl.offset))
	}
	var err error
	switch h.Type {
	case protocol.ReplyTypeNone:
		if h.Length != 0 || h.Flags&protocol.ReplyFlagDone == 0 {
			cl.setErr(protocolErrorf("NBD_REPLY_TYPE_NONE chunk with length %d and flags %#x", h.Length, h.Flags))
			err = c.discard(h.Length)
		}
	case protocol.ReplyTypeOffsetData:
		err = c.offsetData(h, cl)
	case protocol.ReplyTypeOffsetHole:
		err = c.offsetHole(h, cl)
	case protocol.ReplyTypeBlockStatus, protocol.ReplyTypeBlockStatusExt:
		err = c.blockStatus(h, cl)
	default:
		if !h.Type.IsError() {
			// The specification requires a hard disconnect: an unknown type
			// may mean the server thinks we negotiated something we did not.
			return protocolErrorf("reply chunk of unknown type %v", h.Type)
		}
		err = c.errorChunk(h, cl)
	}
	if err != nil {
		return err
	}
	if h.Flags&protocol.ReplyFlagDone != 0 {
		c.finish(h.Cookie, cl)
	}
	return nil
}

func (c *Conn) simpleReply(h *protocol.ReplyHeader, cl *call) error {
	switch {
	case h.Errno != 0:
		cl.setErr(&ServerError{Cmd: cl.cmd, Errno: h.Errno})
		c.noteShutdown(h.Errno)
	case cl.cmd == protocol.CmdRead && c.structured:
		return protocolErrorf("simple reply with data to %v after structured replies were negotiated", cl.cmd)
	case cl.cmd == protocol.CmdRead:
		if err := c.readData(cl, 0, cl.length); err != nil {
			return err
		}
		cl.covered = cl.length
	}
	c.finish(h.Cookie, cl)
	return nil
}

// finish checks that a complete reply told everything a successful one must, then
// completes the call.
func (c *Conn) finish(cookie uint64, cl *call) {
	if cl.err == nil {
		switch cl.cmd {
		case protocol.CmdRead:
			if cl.covered != cl.length {
				cl.err = protocolErrorf("successful read reply describes %d of %d bytes", cl.covered, cl.length)
			}
		case protocol.CmdBlockStatus:
			if len(cl.statuses) != len(c.contexts) {
				cl.err = protocolErrorf("successful block status reply has %d status chunks for %d meta contexts", len(cl.statuses), len(c.contexts))
			}
		}
	}
	c.complete(cookie, cl)
}

func (c *Conn) offsetData(h *protocol.ReplyHeader, cl *call) error {
	if cl.cmd != protocol.CmdRead || h.Length <= protocol.OffsetDataHeaderSize {
		cl.setErr(protocolErrorf("data chunk of %d bytes in reply to %v", h.Length, cl.cmd))
		return c.discard(h.Length)
	}
	b := c.small[:protocol.OffsetDataHeaderSize]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return unexpectedEOF(err)
	}
	offset := binary.BigEndian.Uint64(b)
	n := h.Length - protocol.OffsetDataHeaderSize
	start, ok := cl.within(offset, n)
	if !ok {
		cl.setErr(protocolErrorf("data chunk for [%d, +%d) outside the request [%d, +%d)", offset, n, cl.offset, cl.length))
		return c.discard(n)
	}
	if err := c.readData(cl, start, n); err != nil {
		return err
	}
	cl.covered += n
	return nil
}

func (c *Conn) offsetHole(h *protocol.ReplyHeader, cl *call) error {
	if cl.cmd != protocol.CmdRead || h.Length != 12 {
		cl.setErr(protocolErrorf("hole chunk of %d bytes in reply to %v", h.Length, cl.cmd))
		return c.discard(h.Length)
	}
	b := c.small[:12]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return unexpectedEOF(err)
	}
	offset, size, err := protocol.DecodeOffsetHole(b)
	if err != nil {
		cl.setErr(err)
		return nil
	}
	start, ok := cl.within(offset, uint64(size))
	if !ok {
		cl.setErr(protocolErrorf("hole chunk for [%d, +%d) outside the request [%d, +%d)", offset, size, cl.offset, cl.length))
		return nil
	}
	if dst := c.borrowBuffer(cl); dst != nil {
		clear(dst[start : start+uint64(size)])
		c.returnBuffer(cl)
	}
	cl.covered += uint64(size)
	return nil
}

func (c *Conn) blockStatus(h *protocol.ReplyHeader, cl *call) error {
	extended := h.Type == protocol.ReplyTypeBlockStatusExt
	if cl.cmd != protocol.CmdBlockStatus || extended != c.extended {
		cl.setErr(protocolErrorf("%v chunk in reply to %v", h.Type, cl.cmd))
		return c.discard(h.Length)
	}
	p, err := c.readPayload(h, cl)
	if p == nil || err != nil {
		return err
	}
	start := len(cl.ds)
	id, ds, err := protocol.DecodeBlockStatus(p, extended, cl.ds)
	if err != nil {
		cl.setErr(err)
		return nil
	}
	cl.ds = ds
	if err := c.checkStatus(cl, id, ds[start:]); err != nil {
		cl.ds = ds[:start]
		cl.setErr(err)
		return nil
	}
	cl.statuses = append(cl.statuses, statusChunk{id: id, start: start, end: len(ds)})
	return nil
}

// checkStatus checks the descriptors of one status chunk against the rules of the
// specification.
func (c *Conn) checkStatus(cl *call, id uint32, ds []protocol.BlockDescriptor) error {
	name, ok := c.contextNames[id]
	if !ok {
		return protocolErrorf("block status for meta context ID %d, which was not negotiated", id)
	}
	for _, s := range cl.statuses {
		if s.id == id {
			return protocolErrorf("two block status chunks for meta context %q", name)
		}
	}
	if cl.flags&protocol.CmdFlagReqOne != 0 {
		if len(ds) != 1 || ds[0].Length > cl.length {
			return protocolErrorf("block status with NBD_CMD_FLAG_REQ_ONE answered with %d descriptors", len(ds))
		}
	}
	// Every descriptor but the last must end inside the request; the last may go on.
	var sum uint64
	for _, d := range ds[:len(ds)-1] {
		if d.Length >= cl.length-sum {
			return protocolErrorf("block status descriptors of %q go past the end of the request", name)
		}
		sum += d.Length
	}
	if strings.HasPrefix(name, protocol.MetaNamespaceBase) {
		for _, d := range ds {
			if d.Flags>>32 != 0 {
				return protocolErrorf("64-bit status %#x for %q, a 32-bit context", d.Flags, name)
			}
		}
	}
	return nil
}

func (c *Conn) errorChunk(h *protocol.ReplyHeader, cl *call) error {
	p, err := c.readPayload(h, cl)
	if p == nil || err != nil {
		return err
	}
	e, err := protocol.DecodeErrorChunk(h.Type, p)
	if err != nil {
		// The reply failed either way; the length in the header keeps the stream
		// in step.
		cl.setErr(err)
		return nil
	}
	cl.setErr(&ServerError{Cmd: cl.cmd, Errno: e.Errno, Message: e.Message, HasOffset: e.HasOffset, Offset: e.Offset})
	c.noteShutdown(e.Errno)
	return nil
}

// noteShutdown handles NBD_ESHUTDOWN, after which the specification asks the client for
// a soft disconnect: new requests are refused and complete sends NBD_CMD_DISC once
// nothing is in flight.
func (c *Conn) noteShutdown(errno protocol.Errno) {
	if errno != protocol.ESHUTDOWN {
		return
	}
	c.mu.Lock()
	c.shutdown = true
	if c.err == nil {
		c.err = disconnected(errors.New("the server is shutting down"))
	}
	c.mu.Unlock()
}

// readPayload reads the payload of a status or error chunk into the reader's scratch
// buffer. A payload above the limit is skipped, failing its request, and gives nil.
func (c *Conn) readPayload(h *protocol.ReplyHeader, cl *call) ([]byte, error) {
	if h.Length > c.maxPayload {
		cl.setErr(&protocol.TooLargeError{What: h.Type.String() + " payload", Length: h.Length, Limit: c.maxPayload})
		return nil, c.discard(h.Length)
	}
	if uint64(cap(c.scratch)) < h.Length || cap(c.scratch) > maxKeptScratch {
		c.scratch = make([]byte, h.Length)
	}
	p := c.scratch[:h.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return nil, unexpectedEOF(err)
	}
	return p, nil
}

// readData reads n bytes of read data into the caller's buffer at start, or drops them
// when the caller is gone.
func (c *Conn) readData(cl *call, start, n uint64) error {
	dst := c.borrowBuffer(cl)
	if dst == nil {
		return c.discard(n)
	}
	_, err := io.ReadFull(c.br, dst[start:start+n])
	c.returnBuffer(cl)
	return unexpectedEOF(err)
}

func (c *Conn) discard(n uint64) error {
	for n > 0 {
		k := int(min(n, math.MaxInt32))
		if _, err := c.br.Discard(k); err != nil {
			return unexpectedEOF(err)
		}
		n -= uint64(k)
	}
	return nil
}

// within reports where [offset, offset+n) starts in the request's range, if it lies
// inside it.
func (cl *call) within(offset, n uint64) (start uint64, ok bool) {
	if offset < cl.offset {
		return 0, false
	}
	start = offset - cl.offset
	return start, start <= cl.length && n <= cl.length-start
}

// unexpectedEOF turns io.EOF in the middle of a reply into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return fmt.Errorf("in the middle of a reply: %w", io.ErrUnexpectedEOF)
	}
	return err
}
