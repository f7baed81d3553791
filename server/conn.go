package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// A conn is one client connection: its handshake state, then its transmission phase.
//
// The transmission phase runs on worker goroutines in the leader/follower style of
// go-fuse: one worker at a time reads a request (under readMu), then serves it and
// writes its reply itself, so a request is never handed from one goroutine to another.
// When the worker that just read a request finds every worker busy, it starts another
// (up to the thread limit) to read the next request meanwhile.
type conn struct {
	s    *Server
	nc   net.Conn
	br   *bufio.Reader
	info ConnInfo
	log  *slog.Logger

	// Negotiated in the handshake.
	noZeroes     bool
	structured   bool
	extended     bool
	metaContexts bool   // base:allocation is selected
	metaExport   string // for the export named here
	exp          *export
	scratch      [256]byte

	// The transmission phase.
	ctx      context.Context // the connection's, with its ConnInfo
	cancel   context.CancelFunc
	readMu   sync.Mutex
	readDone bool  // no more requests will be read; under readMu
	readErr  error // why; under readMu
	workers  int   // under readMu
	busy     atomic.Int32
	running  sync.WaitGroup

	// Replies: a worker that finds no write in progress writes its reply and those
	// that queued meanwhile, all in one vectored write; the others queue and wait.
	writeMu  sync.Mutex
	writing  bool          // under writeMu
	queued   []*worker     // replies waiting for the writer; under writeMu
	writeErr error         // under writeMu
	batch    []*worker     // the writer's
	iovWrite net.Buffers   // the writer's: the vectors of a batch
	bw       *bufio.Writer // gathers them when the connection has no writev
	iovAll   [][]byte      // backs iovWrite

	// In-flight payload bytes, for back-pressure.
	flightMu    sync.Mutex
	flightCond  sync.Cond
	flightBytes int64
}

func newConn(s *Server, nc net.Conn, info ConnInfo, log *slog.Logger) *conn {
	c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, 64<<10), info: info, log: log}
	c.flightCond.L = &c.flightMu
	return c
}

// serve runs the connection to its end.
func (c *conn) serve(ctx context.Context) error {
	ctx, c.cancel = context.WithCancel(ctx)
	defer c.cancel()
	ctx = withControl(ctx, c.s, c)
	// On shutdown, stop reading requests; those in flight still get their replies.
	stop := context.AfterFunc(ctx, func() {
		c.nc.SetReadDeadline(time.Now())
		// A client that stops reading its replies must not hold the shutdown forever.
		c.nc.SetWriteDeadline(time.Now().Add(shutdownGrace))
	})
	defer stop()

	if err := c.handshake(ctx); err != nil {
		if errors.Is(err, errAbort) || ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("handshake: %w", err)
	}
	if ctx.Err() != nil {
		// Shut down during the handshake, whose end cleared the read deadline that
		// would have stopped the reader.
		return c.exp.close(WithConnInfo(ctx, c.info))
	}
	c.log.Debug("transmission", "export", c.exp.name, "size", c.exp.size,
		"structured", c.structured, "extended", c.extended, "meta_contexts", c.metaContexts)
	c.ctx = WithConnInfo(ctx, c.info)
	switch c.nc.(type) {
	case *net.TCPConn, *net.UnixConn: // written with writev
	default:
		// TLS and the wrappers would write each vector on its own (a TLS record
		// each): gather them.
		c.bw = bufio.NewWriterSize(c.nc, 64<<10)
	}

	c.readMu.Lock()
	c.startWorker()
	c.readMu.Unlock()
	c.running.Wait()

	err := c.exp.close(c.ctx)
	if err != nil {
		c.log.Warn("close", "export", c.exp.name, "err", err)
	}
	switch {
	case c.readErr == nil, errors.Is(c.readErr, io.EOF), ctx.Err() != nil:
		return c.writeErr
	default:
		return c.readErr
	}
}

// startWorker starts a worker goroutine; readMu is held.
func (c *conn) startWorker() {
	c.workers++
	c.running.Add(1)
	w := &worker{c: c, written: make(chan struct{}, 1)}
	go w.loop()
}

// A worker reads, serves and answers requests, one at a time. Everything a request needs
// lives in the worker and is reused, so that the hot path does not allocate.
type worker struct {
	c       *conn
	req     protocol.Request
	errno   protocol.Errno // set when the request was refused before the layers saw it
	why     string
	payload *[]byte // the request's data buffer, from the pool
	charged int64   // in-flight bytes to give back
	extents ExtentList
	header  [64]byte
	scratch *[]byte // for replies with many chunks
	iov     net.Buffers
	iovBase [4][]byte
	written chan struct{} // receives when a writer has sent this worker's queued reply
	// iovChunks backs the vectors of a sparse read: iov itself cannot keep the
	// capacity, since net.Buffers.WriteTo consumes it.
	iovChunks [2 * maxReadChunks][]byte
}

func (w *worker) loop() {
	c := w.c
	defer c.running.Done()
	for w.read() {
		w.serve()
		w.release()
		c.busy.Add(-1)
	}
}

// read reads the next request and its payload, and checks it. It reports false when
// the connection reads no more requests.
func (w *worker) read() bool {
	c := w.c
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readDone {
		return false
	}
	if err := w.readRequest(); err != nil {
		c.readDone, c.readErr = true, err
		return false
	}
	if w.req.Type == protocol.CmdDisc {
		c.readDone = true
		return false
	}
	if n := c.busy.Add(1); int(n) >= c.workers && c.workers < c.s.threads {
		c.startWorker()
	}
	return true
}

// readRequest reads a request header and any payload; readMu is held. An error ends the
// connection.
func (w *worker) readRequest() error {
	c := w.c
	hdr := w.header[:protocol.RequestSize(c.extended)]
	if _, err := io.ReadFull(c.br, hdr); err != nil {
		return err
	}
	if err := protocol.DecodeRequest(hdr, c.extended, &w.req); err != nil {
		return err // the stream cannot be trusted any further
	}
	r := &w.req
	w.errno, w.why = c.check(r)
	maxPayload := uint64(c.s.opts.MaxPayload)
	switch {
	case r.HasPayload(c.extended):
		if r.Length > maxPayload {
			if c.extended {
				return fmt.Errorf("%v payload of %d bytes exceeds the maximum %d", r.Type, r.Length, maxPayload)
			}
			// A compact header cannot lie about more than 4 GiB: skip it and refuse.
			if _, err := io.CopyN(io.Discard, c.br, int64(r.Length)); err != nil {
				return err
			}
			w.errno, w.why = protocol.EINVAL, "payload exceeds the maximum block size"
			return nil
		}
		w.charge(int64(r.Length))
		w.payload = c.s.buffers.get(int(r.Length))
		if _, err := io.ReadFull(c.br, *w.payload); err != nil {
			return err
		}
	case r.Type == protocol.CmdRead && w.errno == 0:
		w.charge(int64(r.Length))
		w.payload = c.s.buffers.get(int(r.Length))
	}
	return nil
}

// charge waits until n more payload bytes fit in the connection's in-flight budget, so
// that a client pipelining faster than the layers drain cannot make the server buffer
// without bound. One request always fits.
func (w *worker) charge(n int64) {
	c := w.c
	c.flightMu.Lock()
	for c.flightBytes > 0 && c.flightBytes+n > c.s.opts.MaxInFlightBytes {
		c.flightCond.Wait()
	}
	c.flightBytes += n
	c.flightMu.Unlock()
	w.charged = n
}

// release gives back what the request held.
func (w *worker) release() {
	c := w.c
	if w.payload != nil {
		c.s.buffers.put(w.payload)
		w.payload = nil
	}
	if w.charged != 0 {
		c.flightMu.Lock()
		c.flightBytes -= w.charged
		c.flightMu.Unlock()
		c.flightCond.Broadcast()
		w.charged = 0
	}
}

// check validates a request against what was negotiated before any layer sees it, and
// returns the error the specification asks for, or 0.
func (c *conn) check(r *protocol.Request) (protocol.Errno, string) {
	e := c.exp
	const known = protocol.CmdFlagFUA | protocol.CmdFlagNoHole | protocol.CmdFlagDF |
		protocol.CmdFlagReqOne | protocol.CmdFlagFastZero | protocol.CmdFlagPayloadLen
	f := r.Flags
	switch {
	case f&^known != 0:
		return protocol.EINVAL, "unknown command flags"
	case !e.caps.Write && (r.Type == protocol.CmdWrite || r.Type == protocol.CmdTrim || r.Type == protocol.CmdWriteZeroes):
		// Before the flags, which a read-only export never offers: as nbdkit, the client
		// learns the real reason.
		return protocol.EPERM, "the export is read-only"
	case f&protocol.CmdFlagPayloadLen != 0 && (!c.extended || r.Type != protocol.CmdWrite):
		return protocol.EINVAL, "unexpected payload"
	case f&protocol.CmdFlagFUA != 0 && e.caps.FUA == FUANone:
		return protocol.EINVAL, "FUA was not negotiated"
	case f&protocol.CmdFlagNoHole != 0 && r.Type != protocol.CmdWriteZeroes:
		return protocol.EINVAL, "NO_HOLE is for write zeroes only"
	case f&protocol.CmdFlagDF != 0 && (r.Type != protocol.CmdRead || !c.structured):
		return protocol.EINVAL, "DF is for structured reads only"
	case f&protocol.CmdFlagReqOne != 0 && r.Type != protocol.CmdBlockStatus:
		return protocol.EINVAL, "REQ_ONE is for block status only"
	case f&protocol.CmdFlagFastZero != 0 && (r.Type != protocol.CmdWriteZeroes || !e.caps.FastZero):
		return protocol.EINVAL, "FAST_ZERO was not negotiated"
	}

	switch r.Type {
	case protocol.CmdRead, protocol.CmdCache, protocol.CmdBlockStatus:
	case protocol.CmdWrite, protocol.CmdTrim, protocol.CmdWriteZeroes:
	case protocol.CmdFlush:
		if !e.caps.Flush {
			return protocol.EINVAL, "flush was not negotiated"
		}
		if r.Offset != 0 || r.Length != 0 {
			return protocol.EINVAL, "flush with an offset or length"
		}
		return 0, ""
	default:
		return protocol.EINVAL, "unknown command " + r.Type.String()
	}
	switch {
	case r.Type == protocol.CmdTrim && !e.caps.Trim,
		r.Type == protocol.CmdWriteZeroes && !e.caps.Zero,
		r.Type == protocol.CmdCache && e.caps.Cache == CacheNone:
		return protocol.EINVAL, r.Type.String() + " was not negotiated"
	case r.Type == protocol.CmdBlockStatus && !c.metaContexts:
		return protocol.EINVAL, "no meta context was negotiated"
	}

	size := uint64(e.size)
	if r.Length == 0 || r.Offset > size || r.Length > size-r.Offset {
		if r.Type == protocol.CmdWrite || r.Type == protocol.CmdWriteZeroes {
			return protocol.ENOSPC, "request beyond the end of the export"
		}
		return protocol.EINVAL, "request beyond the end of the export"
	}
	if min := uint64(e.block.Minimum); r.Offset%min != 0 || (r.Length%min != 0 && r.Offset+r.Length != size) {
		return protocol.EINVAL, "request not aligned to the minimum block size"
	}
	if (r.Type == protocol.CmdRead || r.Type == protocol.CmdWrite) && r.Length > uint64(e.block.Maximum) {
		if r.Type == protocol.CmdRead {
			return protocol.EOVERFLOW, "read larger than the maximum block size"
		}
		return protocol.EINVAL, "write larger than the maximum block size"
	}
	return 0, ""
}

// serve carries out a request that was read and answers it.
func (w *worker) serve() {
	c := w.c
	r := &w.req
	if w.errno != 0 {
		if c.log.Enabled(c.ctx, slog.LevelDebug) { // not even the arguments' boxing otherwise
			c.log.Debug("request refused", "cmd", r.Type, "offset", r.Offset, "length", r.Length, "errno", w.errno, "why", w.why)
		}
		w.replyError(w.errno, w.why)
		return
	}
	if c.s.threadModel == SerializeAllRequests {
		c.s.requestMu.Lock()
		defer c.s.requestMu.Unlock()
	}
	if err := w.call(); err != nil {
		errno := ErrnoOf(err)
		c.log.Error("request failed", "cmd", r.Type, "offset", r.Offset, "length", r.Length, "errno", errno, "err", err)
		w.replyError(errno, err.Error())
	}
}

// call passes the request to the top layer and sends a successful reply. A panic below
// fails this request only.
func (w *worker) call() (err error) {
	defer func() {
		if v := recover(); v != nil {
			w.c.log.Error("panic serving a request", "panic", v, "stack", string(debug.Stack()))
			err = Errorf(syscall.EIO, "panic: %v", v)
		}
	}()
	c, r, h := w.c, &w.req, w.c.exp.h
	off, n := int64(r.Offset), int64(r.Length)
	var flags Flags
	if r.Flags&protocol.CmdFlagFUA != 0 {
		flags |= FlagFUA
	}
	switch r.Type {
	case protocol.CmdRead:
		return w.readData(off)
	case protocol.CmdWrite:
		err = h.WriteAt(c.ctx, *w.payload, off, flags)
	case protocol.CmdFlush:
		err = h.Flush(c.ctx, 0)
	case protocol.CmdTrim:
		err = h.Trim(c.ctx, off, n, flags)
	case protocol.CmdWriteZeroes:
		if r.Flags&protocol.CmdFlagNoHole == 0 {
			flags |= FlagMayTrim
		}
		if r.Flags&protocol.CmdFlagFastZero != 0 {
			flags |= FlagFastZero
		}
		err = h.Zero(c.ctx, off, n, flags)
	case protocol.CmdCache:
		err = h.Cache(c.ctx, off, n, 0)
	case protocol.CmdBlockStatus:
		return w.blockStatus(off, n)
	}
	if err != nil {
		return err
	}
	w.replyDone()
	return nil
}

// readData serves NBD_CMD_READ. The reply goes out only once all its data is ready, so that
// an error can still be reported as an error.
func (w *worker) readData(off int64) error {
	c := w.c
	data := *w.payload
	if c.structured && w.req.Flags&protocol.CmdFlagDF == 0 && c.exp.caps.Extents && len(data) >= sparseReadMin {
		return w.readSparse(off, data)
	}
	if err := c.exp.h.ReadAt(c.ctx, data, off, 0); err != nil {
		return err
	}
	if !c.structured {
		w.iov = append(w.iovBase[:0], protocol.AppendSimpleReply(w.header[:0], 0, w.req.Cookie), data)
	} else {
		hdr := w.chunkHeader(w.header[:0], protocol.ReplyFlagDone, protocol.ReplyTypeOffsetData, uint64(len(data))+8)
		hdr = protocol.AppendOffsetData(hdr, uint64(off))
		w.iov = append(w.iovBase[:0], hdr, data)
	}
	w.send()
	return nil
}

// shutdownGrace is how long replies in flight may take to be written once the server
// shuts down.
const shutdownGrace = 10 * time.Second

// sparseReadMin is the smallest read that asks the layers for extents first, so that
// holes go out as NBD_REPLY_TYPE_OFFSET_HOLE instead of zeroes. Below it the extra call
// costs more than sending the zeroes.
const sparseReadMin = 64 << 10

// maxReadChunks bounds the chunks of one sparse read; a read more fragmented than this is
// sent as one data chunk.
const maxReadChunks = 32

// readSparse serves a structured read as data and hole chunks.
func (w *worker) readSparse(off int64, data []byte) error {
	c, h := w.c, w.c.exp.h
	end := off + int64(len(data))
	w.extents.Reset(off, end)
	// The extents only shape the reply: if the layers cannot say, the read still
	// succeeds, as one data chunk.
	extentsErr := h.Extents(c.ctx, off, end-off, 0, &w.extents)
	exts := w.extents.Extents()
	if n := len(exts); extentsErr != nil || n == 0 || n > maxReadChunks || exts[n-1].Offset+exts[n-1].Length < end ||
		(n == 1 && exts[0].Type&ExtentZero == 0) {
		// Incomplete, too fragmented, or all data: one data chunk.
		if err := h.ReadAt(c.ctx, data, off, 0); err != nil {
			return err
		}
		hdr := w.chunkHeader(w.header[:0], protocol.ReplyFlagDone, protocol.ReplyTypeOffsetData, uint64(len(data))+8)
		w.iov = append(w.iovBase[:0], protocol.AppendOffsetData(hdr, uint64(off)), data)
		w.send()
		return nil
	}
	for _, e := range exts {
		if e.Type&ExtentZero == 0 {
			p := data[e.Offset-off : e.Offset-off+e.Length]
			if err := h.ReadAt(c.ctx, p, e.Offset, 0); err != nil {
				return err
			}
		}
	}
	if w.scratch == nil {
		w.scratch = c.s.buffers.get(4096)
	}
	hdrs := (*w.scratch)[:0]
	w.iov = w.iovChunks[:0]
	for i, e := range exts {
		var flags protocol.ReplyFlags
		if i == len(exts)-1 {
			flags = protocol.ReplyFlagDone
		}
		start := len(hdrs)
		if e.Type&ExtentZero != 0 {
			hdrs = w.chunkHeader(hdrs, flags, protocol.ReplyTypeOffsetHole, 12)
			hdrs = protocol.AppendOffsetHole(hdrs, uint64(e.Offset), uint32(e.Length))
			w.iov = append(w.iov, hdrs[start:])
			continue
		}
		hdrs = w.chunkHeader(hdrs, flags, protocol.ReplyTypeOffsetData, uint64(e.Length)+8)
		hdrs = protocol.AppendOffsetData(hdrs, uint64(e.Offset))
		w.iov = append(w.iov, hdrs[start:], data[e.Offset-off:e.Offset-off+e.Length])
	}
	w.send()
	return nil
}

// blockStatus serves NBD_CMD_BLOCK_STATUS for base:allocation.
func (w *worker) blockStatus(off, n int64) error {
	c := w.c
	var flags Flags
	if w.req.Flags&protocol.CmdFlagReqOne != 0 {
		flags |= FlagReqOne
	}
	w.extents.Reset(off, off+n)
	if err := c.exp.h.Extents(c.ctx, off, n, flags, &w.extents); err != nil {
		return err
	}
	exts := w.extents.Extents()
	if len(exts) == 0 {
		return Errorf(syscall.EIO, "%s returned no extents", c.s.top.Name())
	}
	if flags&FlagReqOne != 0 {
		exts = exts[:1]
	}
	exts = exts[:min(len(exts), protocol.MaxBlockStatusDescriptors)]
	typ, size := protocol.ReplyTypeBlockStatus, 4+len(exts)*protocol.BlockDescriptorSize
	if c.extended {
		typ, size = protocol.ReplyTypeBlockStatusExt, 8+len(exts)*protocol.BlockDescriptorExtSize
	}
	if w.scratch == nil || cap(*w.scratch) < size+protocol.ExtendedReplySize {
		if w.scratch != nil {
			c.s.buffers.put(w.scratch)
		}
		w.scratch = c.s.buffers.get(size + protocol.ExtendedReplySize)
	}
	b := w.chunkHeader((*w.scratch)[:0], protocol.ReplyFlagDone, typ, uint64(size))
	b = protocol.AppendBlockStatusHeader(b, c.extended, metaContextID, uint32(len(exts)))
	for _, e := range exts {
		var state uint64
		if e.Type&ExtentHole != 0 {
			state |= uint64(protocol.StateHole)
		}
		if e.Type&ExtentZero != 0 {
			state |= uint64(protocol.StateZero)
		}
		b = protocol.AppendBlockDescriptor(b, c.extended, protocol.BlockDescriptor{Length: uint64(e.Length), Flags: state})
	}
	w.iov = append(w.iovBase[:0], b)
	w.send()
	return nil
}

// chunkHeader appends a structured or extended chunk header for the current request.
func (w *worker) chunkHeader(b []byte, flags protocol.ReplyFlags, t protocol.ReplyType, length uint64) []byte {
	return protocol.AppendChunkHeader(b, w.c.extended, flags, t, w.req.Cookie, w.req.Offset, length)
}

// replyDone answers a request that succeeded with no data.
func (w *worker) replyDone() {
	if w.c.extended {
		w.iov = append(w.iovBase[:0], w.chunkHeader(w.header[:0], protocol.ReplyFlagDone, protocol.ReplyTypeNone, 0))
	} else {
		w.iov = append(w.iovBase[:0], protocol.AppendSimpleReply(w.header[:0], 0, w.req.Cookie))
	}
	w.send()
}

// replyError answers a request that failed, with a message when the client can take one.
func (w *worker) replyError(errno protocol.Errno, message string) {
	if !w.c.structured {
		w.iov = append(w.iovBase[:0], protocol.AppendSimpleReply(w.header[:0], errno, w.req.Cookie))
		w.send()
		return
	}
	message = message[:min(len(message), 1024)]
	if w.scratch == nil {
		w.scratch = w.c.s.buffers.get(4096)
	}
	b := w.chunkHeader((*w.scratch)[:0], protocol.ReplyFlagDone, protocol.ReplyTypeError, uint64(protocol.ErrorChunkSize(len(message), false)))
	w.iov = append(w.iovBase[:0], protocol.AppendErrorChunk(b, errno, message, false, 0))
	w.send()
}

// writeBatch writes the vectors of a batch; writeMu is not held.
func (c *conn) writeBatch() error {
	if c.bw == nil {
		_, err := c.iovWrite.WriteTo(c.nc)
		return err
	}
	for _, b := range c.iovWrite {
		if _, err := c.bw.Write(b); err != nil {
			return err
		}
	}
	return c.bw.Flush()
}

// send writes the reply in w.iov, under the connection's write lock so that replies
// never interleave. Replies that become ready while another is being written are sent
// together in the next vectored write, so that a busy connection makes one system call
// for many replies; each worker waits until its own reply is written, since the
// vectors point into its buffers. A write error ends the connection.
func (w *worker) send() {
	c := w.c
	c.writeMu.Lock()
	if c.writeErr != nil {
		c.writeMu.Unlock()
		return
	}
	if c.writing {
		c.queued = append(c.queued, w)
		c.writeMu.Unlock()
		<-w.written
		return
	}
	c.writing = true
	batch := append(c.batch[:0], w)
	for len(batch) > 0 {
		c.iovWrite = c.iovAll[:0]
		for _, q := range batch {
			c.iovWrite = append(c.iovWrite, q.iov...)
		}
		c.iovAll = c.iovWrite[:0] // keeps the capacity, which WriteTo consumes
		c.writeMu.Unlock()
		err := c.writeBatch()
		c.writeMu.Lock()
		if err != nil && c.writeErr == nil {
			c.writeErr = err
			// Stop reading too: nobody can receive the replies.
			c.nc.SetReadDeadline(time.Now())
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				c.log.Debug("write reply", "err", err)
			}
		}
		for _, q := range batch {
			if q != w {
				q.written <- struct{}{}
			}
		}
		// The queue becomes the next batch, and this batch's array the queue.
		batch, c.queued = c.queued, batch[:0]
	}
	c.batch = batch
	c.writing = false
	c.writeMu.Unlock()
}
