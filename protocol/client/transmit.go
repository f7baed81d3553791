package client

import (
	"context"
	"fmt"

	"github.com/gonbd/gonbd/protocol"
)

// A call is one request in flight. Calls are pooled per connection; a call whose
// waiter gave up (its context ended) is left to the garbage collector instead, since
// the reader may still hold it.
type call struct {
	cmd    protocol.Cmd
	flags  protocol.CmdFlags
	offset uint64
	length uint64
	done   chan struct{} // receives once the reply is complete

	// Under Conn.mu:
	buf       []byte // where read data goes; nil once abandoned
	reading   bool   // the reader is writing into buf
	abandoned bool   // the waiter is gone: drain the reply and drop the call
	completed bool   // the reply is complete (or the connection failed)

	// Written by the reader before completion, read by the waiter after it:
	err      error
	covered  uint64 // bytes of a read that content chunks described
	statuses []statusChunk
	ds       []protocol.BlockDescriptor // the descriptors of all status chunks
}

// A statusChunk is the block status of one meta context: ds[start:end] of its call.
type statusChunk struct {
	id         uint32
	start, end int
}

// maxPooledDescriptors bounds the descriptor slice a pooled call keeps, so that one
// huge block status reply does not pin its memory.
const maxPooledDescriptors = 4096

func (c *Conn) getCall(cmd protocol.Cmd, flags protocol.CmdFlags, offset, length uint64) *call {
	cl, _ := c.calls.Get().(*call)
	if cl == nil {
		cl = &call{done: make(chan struct{}, 1)}
	}
	cl.cmd, cl.flags, cl.offset, cl.length = cmd, flags, offset, length
	return cl
}

func (c *Conn) putCall(cl *call) {
	ds := cl.ds[:0]
	if cap(ds) > maxPooledDescriptors {
		ds = nil
	}
	*cl = call{done: cl.done, ds: ds, statuses: cl.statuses[:0]}
	c.calls.Put(cl)
}

// roundTrip sends the request of cl, with its payload, and waits for the reply. On
// success the reply's outcome is in cl and the caller recycles cl with putCall; on
// error cl belongs to the connection.
func (c *Conn) roundTrip(ctx context.Context, cl *call, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		<-c.slots
		return err
	}
	// Register before sending: the reply may come before Write returns.
	c.nextCookie++
	cookie := c.nextCookie
	c.pending[cookie] = cl
	c.mu.Unlock()

	if err := c.send(cookie, cl, payload); err != nil {
		// The reader completes every pending call, this one included, with the
		// error once the connection is closed.
		c.breakConnection(err)
	}
	return c.wait(ctx, cl)
}

// send writes the request header and payload together, so that concurrent requests
// do not interleave on the wire.
func (c *Conn) send(cookie uint64, cl *call, payload []byte) error {
	r := protocol.Request{Flags: cl.flags, Type: cl.cmd, Cookie: cookie, Offset: cl.offset, Length: cl.length}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	switch {
	case c.discSent:
		// Close won the race after this request was registered: nothing may
		// follow NBD_CMD_DISC.
		return ErrClosed
	case c.writeFailed:
		return fmt.Errorf("nbd: an earlier write failed")
	}
	header := protocol.AppendRequest(c.header[:0], &r, c.extended)
	var err error
	if len(payload) == 0 {
		_, err = c.nc.Write(header)
	} else {
		c.vec = [2][]byte{header, payload}
		c.bufs = c.vec[:]
		_, err = c.bufs.WriteTo(c.nc)
		c.vec[1] = nil // do not keep the caller's buffer
	}
	if err != nil {
		c.writeFailed = true
		return fmt.Errorf("nbd: sending %v: %w", cl.cmd, err)
	}
	return nil
}

// wait waits for the reply to cl or for ctx to end. When ctx ends first the call is
// abandoned: the reader drains its reply when it comes, and no longer touches the
// caller's buffer once wait returns.
func (c *Conn) wait(ctx context.Context, cl *call) error {
	select {
	case <-cl.done:
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	if cl.completed {
		// The reply won the race: take it.
		c.mu.Unlock()
		<-cl.done
		return nil
	}
	cl.abandoned = true
	cl.buf = nil
	for cl.reading {
		c.bufferFree.Wait()
	}
	c.mu.Unlock()
	return ctx.Err()
}

// breakConnection makes the connection unusable after a failed write: the stream may
// hold half a request. Closing it stops the reader, which fails every pending request.
func (c *Conn) breakConnection(cause error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = disconnected(cause)
	}
	c.mu.Unlock()
	c.nc.Close()
}

// complete hands the finished reply of cl to its waiter. Only the reader calls it.
func (c *Conn) complete(cookie uint64, cl *call) {
	c.mu.Lock()
	delete(c.pending, cookie)
	cl.completed = true
	if c.closed {
		// Close promises ErrClosed to the requests it interrupts, whatever the
		// server answered while it hung up (nbdkit fails them with ESHUTDOWN).
		cl.err = ErrClosed
	}
	abandoned := cl.abandoned
	disconnect := c.shutdown && len(c.pending) == 0
	c.signalIdle()
	c.mu.Unlock()
	<-c.slots
	if !abandoned {
		cl.done <- struct{}{}
	}
	if disconnect {
		// The server is shutting down; the specification asks for a soft
		// disconnect once nothing is in flight.
		c.sendDisconnect()
	}
}

// borrowBuffer returns the buffer of a read for the reader to fill, or nil when the
// waiter is gone. returnBuffer must follow.
func (c *Conn) borrowBuffer(cl *call) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl.reading = cl.buf != nil
	return cl.buf
}

func (c *Conn) returnBuffer(cl *call) {
	c.mu.Lock()
	cl.reading = false
	if cl.abandoned {
		c.bufferFree.Broadcast()
	}
	c.mu.Unlock()
}

// setErr records the first error of a reply.
func (cl *call) setErr(err error) {
	if cl.err == nil {
		cl.err = err
	}
}
