package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// readBufferSize is the size of the buffer replies are read through. Payloads at least
// this large bypass it and go straight into the caller's buffer.
const readBufferSize = 64 << 10

// closeWriteTimeout bounds the sending of NBD_CMD_DISC by Close, which must not hang on
// a server that stopped reading.
const closeWriteTimeout = 5 * time.Second

// A Conn is a connection in the transmission phase, to one export.
//
// A Conn is safe for concurrent use: many goroutines may have requests in flight at
// once (up to Options.MaxInFlight), and the server may answer them in any order.
type Conn struct {
	nc           net.Conn
	info         ExportInfo
	structured   bool
	extended     bool
	tls          bool
	contexts     map[string]uint32 // negotiated meta contexts; read-only
	contextNames map[uint32]string // the same, by ID
	maxPayload   uint64            // Options.MaxReplyPayload

	slots chan struct{} // one token per request in flight
	calls sync.Pool     // of *call, so that requests allocate nothing

	writeMu     sync.Mutex
	writeFailed bool // a write failed, perhaps halfway: nothing more may be sent
	header      [protocol.ExtendedRequestSize]byte
	vec         [2][]byte
	bufs        net.Buffers // views vec, for writev of header and payload

	mu           sync.Mutex
	bufferFree   sync.Cond // on mu: the reader stopped writing into an abandoned call's buffer
	pending      map[uint64]*call
	nextCookie   uint64
	err          error         // why new requests fail; nil while the connection is usable
	broken       bool          // the reader stopped: the connection is closed
	closed       bool          // Close was called
	discSent     bool          // NBD_CMD_DISC went out
	shutdown     bool          // the server said NBD_ESHUTDOWN: disconnect once idle
	idle         chan struct{} // closed when pending empties, for Disconnect
	idleSignaled bool

	readerDone chan struct{}
	// Owned by the reader goroutine:
	br      *bufio.Reader
	reply   protocol.ReplyHeader
	scratch []byte   // payloads of status and error chunks
	small   [12]byte // the fixed payloads of content chunks
}

func newConn(nc net.Conn, info ExportInfo, n *Negotiator, contexts map[string]uint32) *Conn {
	c := &Conn{
		nc:         nc,
		info:       info,
		structured: n.structured,
		extended:   n.extended,
		tls:        n.tls,
		contexts:   contexts,
		maxPayload: n.opts.MaxReplyPayload,
		slots:      make(chan struct{}, n.opts.MaxInFlight),
		pending:    make(map[uint64]*call),
		readerDone: make(chan struct{}),
		br:         bufio.NewReaderSize(nc, readBufferSize),
	}
	c.contextNames = make(map[uint32]string, len(contexts))
	for name, id := range contexts {
		c.contextNames[id] = name
	}
	c.bufferFree.L = &c.mu
	go c.readLoop()
	return c
}

// Size returns the size of the export in bytes.
func (c *Conn) Size() uint64 { return c.info.Size }

// Flags returns the transmission flags: what the export supports.
func (c *Conn) Flags() protocol.TransmissionFlags { return c.info.Flags }

// BlockSize returns the server's size constraints, or the defaults when it gave none.
func (c *Conn) BlockSize() protocol.BlockSizeInfo { return c.info.BlockSize }

// ExportName returns the export's canonical name, or the name the client asked for when
// the server did not say.
func (c *Conn) ExportName() string { return c.info.Name }

// Description returns the export's description, if the server gave one.
func (c *Conn) Description() string { return c.info.Description }

// Info returns everything the handshake told about the export.
func (c *Conn) Info() ExportInfo { return c.info }

// StructuredReplies reports whether the server sends structured (or extended) replies,
// which make sparse reads and block status possible.
func (c *Conn) StructuredReplies() bool { return c.structured }

// ExtendedHeaders reports whether requests and replies use extended headers, which
// carry 64-bit lengths.
func (c *Conn) ExtendedHeaders() bool { return c.extended }

// TLS reports whether the connection is encrypted.
func (c *Conn) TLS() bool { return c.tls }

// MetaContexts returns the meta contexts the server selected, by name, with their IDs.
// BlockStatus reports on all of them.
func (c *Conn) MetaContexts() map[string]uint32 { return maps.Clone(c.contexts) }

// Close sends NBD_CMD_DISC and closes the connection without waiting for requests in
// flight, which fail with ErrClosed. Disconnect waits for them first.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.readerDone
		return ErrClosed
	}
	c.closed = true
	if c.err == nil {
		c.err = ErrClosed
	}
	broken := c.broken
	c.mu.Unlock()

	var err error
	if !broken {
		err = c.sendDisconnect()
		// The server may close first, on NBD_CMD_DISC, and the reader with it.
		if cerr := c.nc.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	<-c.readerDone
	return err
}

// Disconnect refuses new requests, waits until those in flight are answered (or ctx is
// done), then closes the connection as Close does. This is the clean end the
// specification asks clients for.
func (c *Conn) Disconnect(ctx context.Context) error {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	if c.idle == nil {
		c.idle = make(chan struct{})
		c.signalIdle()
	}
	idle := c.idle
	c.mu.Unlock()

	select {
	case <-idle:
		return c.Close()
	case <-ctx.Done():
		c.Close()
		return ctx.Err()
	}
}

// signalIdle wakes Disconnect once no request is in flight. Called with mu held.
func (c *Conn) signalIdle() {
	if c.idle != nil && !c.idleSignaled && len(c.pending) == 0 {
		c.idleSignaled = true
		close(c.idle)
	}
}

// sendDisconnect sends NBD_CMD_DISC once, unless an earlier write failed and left the
// stream in an unknown state.
func (c *Conn) sendDisconnect() error {
	c.nc.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	sent := c.discSent
	c.discSent = true
	c.mu.Unlock()
	if sent || c.writeFailed {
		return nil
	}
	r := protocol.Request{Type: protocol.CmdDisc}
	if _, err := c.nc.Write(protocol.AppendRequest(c.header[:0], &r, c.extended)); err != nil {
		return fmt.Errorf("nbd: sending NBD_CMD_DISC: %w", err)
	}
	return nil
}
