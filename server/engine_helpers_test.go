package server_test

// Shared helpers of the engine tests (engine_*_test.go): a sparse in-memory test plugin
// with every optional interface and knobs to break it, an in-process server on a Unix
// socket, and a raw NBD client built on the protocol codec.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// testTimeout bounds every wait of the engine tests.
const testTimeout = 20 * time.Second

const pageSize = 4096

// testDisk is a sparse in-memory plugin. Its knobs are set before the server starts and
// only read afterwards; its counters are atomic.
type testDisk struct {
	size        int64
	threadModel server.ThreadModel
	block       server.BlockSize
	description string
	exports     []server.Export                                     // for ListExports; nil: the default alone
	refuse      map[string]bool                                     // export names Open refuses
	caps        func(c *server.Capabilities)                        // changes the derived capabilities
	failOp      atomic.Value                                        // string: the op that fails with EIO
	panicOp     atomic.Value                                        // string: the op that panics
	extents     func(off, length int64, e *server.ExtentList) error // overrides Extents
	gate        chan struct{}                                       // when set, every data op takes a token first

	mu      sync.Mutex
	pages   map[int64]*[pageSize]byte
	handles []*testHandle // every handle opened, under mu

	calls      sync.Map // op name → *atomic.Int64
	dataCalls  atomic.Int64
	opens      atomic.Int64
	closes     atomic.Int64
	cleanups   atomic.Int64
	active     atomic.Int64 // data ops in the plugin now
	maxActive  atomic.Int64
	bytesIn    atomic.Int64 // payload bytes of writes in the plugin now
	maxBytesIn atomic.Int64
	maxZero    atomic.Int64  // the longest zero request
	entered    chan struct{} // when set, receives (non-blocking) as an op enters
}

func newTestDisk(size int64) *testDisk {
	return &testDisk{size: size, threadModel: server.Parallel, pages: map[int64]*[pageSize]byte{}}
}

func (d *testDisk) layer() server.Layer { return server.PluginLayer("testdisk", d) }

func (d *testDisk) count(op string) int64 {
	v, ok := d.calls.Load(op)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func (d *testDisk) ThreadModel() server.ThreadModel { return d.threadModel }

func (d *testDisk) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	if d.exports == nil {
		return []server.Export{{Name: ""}}, nil
	}
	return d.exports, nil
}

func (d *testDisk) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	return "", nil
}

func (d *testDisk) Cleanup(ctx context.Context) { d.cleanups.Add(1) }

func (d *testDisk) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	if d.refuse[req.ExportName] {
		return nil, server.Errorf(syscall.ENOENT, "no export %q", req.ExportName)
	}
	d.opens.Add(1)
	h := &testHandle{d: d, name: req.ExportName}
	d.mu.Lock()
	d.handles = append(d.handles, h)
	d.mu.Unlock()
	return h, nil
}

type testHandle struct {
	d      *testDisk
	name   string
	closed atomic.Bool
	// per-connection concurrency
	active, maxActive atomic.Int64
}

// enter is called by every data op: it counts, applies the fail and panic knobs, waits
// at the gate and tracks concurrency. The returned func leaves.
func (h *testHandle) enter(op string, writeBytes int) (func(), error) {
	d := h.d
	v, _ := d.calls.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	d.dataCalls.Add(1)
	if h.closed.Load() {
		panic("op on a closed handle")
	}
	if d.panicOp.Load() == op {
		panic("testdisk: deliberate panic in " + op)
	}
	if d.failOp.Load() == op {
		return nil, server.Errorf(syscall.EIO, "testdisk: deliberate failure of %s", op)
	}
	raise := func(cur int64, max *atomic.Int64) {
		for {
			m := max.Load()
			if cur <= m || max.CompareAndSwap(m, cur) {
				return
			}
		}
	}
	raise(d.active.Add(1), &d.maxActive)
	raise(h.active.Add(1), &h.maxActive)
	raise(d.bytesIn.Add(int64(writeBytes)), &d.maxBytesIn)
	if d.entered != nil {
		select {
		case d.entered <- struct{}{}:
		default:
		}
	}
	if d.gate != nil {
		<-d.gate
	}
	return func() {
		d.bytesIn.Add(-int64(writeBytes))
		h.active.Add(-1)
		d.active.Add(-1)
	}, nil
}

func (h *testHandle) Size(ctx context.Context) (int64, error) { return h.d.size, nil }

func (h *testHandle) ReadAt(ctx context.Context, p []byte, off int64) error {
	leave, err := h.enter("read", 0)
	if err != nil {
		return err
	}
	defer leave()
	h.d.read(p, off)
	return nil
}

func (h *testHandle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	leave, err := h.enter("write", len(p))
	if err != nil {
		return err
	}
	defer leave()
	h.d.write(p, off)
	return nil
}

func (h *testHandle) Flush(ctx context.Context, flags server.Flags) error {
	leave, err := h.enter("flush", 0)
	if err != nil {
		return err
	}
	leave()
	return nil
}

func (h *testHandle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	leave, err := h.enter("trim", 0)
	if err != nil {
		return err
	}
	defer leave()
	h.d.zero(off, length)
	return nil
}

func (h *testHandle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	leave, err := h.enter("zero", 0)
	if err != nil {
		return err
	}
	defer leave()
	for m := h.d.maxZero.Load(); length > m && !h.d.maxZero.CompareAndSwap(m, length); m = h.d.maxZero.Load() {
	}
	h.d.zero(off, length)
	return nil
}

func (h *testHandle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	leave, err := h.enter("cache", 0)
	if err != nil {
		return err
	}
	leave()
	return nil
}

func (h *testHandle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	leave, err := h.enter("extents", 0)
	if err != nil {
		return err
	}
	defer leave()
	if h.d.extents != nil {
		return h.d.extents(off, length, e)
	}
	return h.d.extentsOf(off, length, e)
}

func (h *testHandle) BlockSize(ctx context.Context) (server.BlockSize, error) { return h.d.block, nil }

func (h *testHandle) ExportDescription(ctx context.Context) (string, error) {
	return h.d.description, nil
}

func (h *testHandle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.FUA = server.FUANative
	c.FastZero = c.Zero
	c.MultiConn = true
	if h.d.caps != nil {
		h.d.caps(c)
	}
	return nil
}

func (h *testHandle) Close() error {
	if h.closed.Swap(true) {
		panic("handle closed twice")
	}
	h.d.closes.Add(1)
	return nil
}

// read fills p from the sparse pages.
func (d *testDisk) read(p []byte, off int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(p) > 0 {
		pg, in := off/pageSize, off%pageSize
		n := min(int64(len(p)), pageSize-in)
		if page := d.pages[pg]; page != nil {
			copy(p[:n], page[in:])
		} else {
			clear(p[:n])
		}
		p, off = p[n:], off+n
	}
}

func (d *testDisk) write(p []byte, off int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(p) > 0 {
		pg, in := off/pageSize, off%pageSize
		n := min(int64(len(p)), pageSize-in)
		page := d.pages[pg]
		if page == nil {
			page = new([pageSize]byte)
			d.pages[pg] = page
		}
		copy(page[in:in+n], p[:n])
		p, off = p[n:], off+n
	}
}

// zero zeroes [off, off+length), dropping whole pages, without visiting every page of
// a huge range.
func (d *testDisk) zero(off, length int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	end := off + length
	for pg, page := range d.pages {
		ps, pe := pg*pageSize, pg*pageSize+pageSize
		if pe <= off || ps >= end {
			continue
		}
		if ps >= off && pe <= end {
			delete(d.pages, pg)
			continue
		}
		clear(page[max(off, ps)-ps : min(end, pe)-ps])
	}
}

// extentsOf reports allocated pages as data and the rest as holes that read as zeroes.
func (d *testDisk) extentsOf(off, length int64, e *server.ExtentList) error {
	d.mu.Lock()
	var pgs []int64
	end := off + length
	for pg := range d.pages {
		if pg*pageSize+pageSize > off && pg*pageSize < end {
			pgs = append(pgs, pg)
		}
	}
	d.mu.Unlock()
	slices.Sort(pgs)
	pos := off
	for _, pg := range pgs {
		ps, pe := max(pg*pageSize, off), min(pg*pageSize+pageSize, end)
		if ps > pos {
			if err := e.Add(pos, ps-pos, server.ExtentHole|server.ExtentZero); err != nil {
				return err
			}
		}
		if err := e.Add(ps, pe-ps, server.ExtentData); err != nil {
			return err
		}
		pos = pe
	}
	if pos < end {
		return e.Add(pos, end-pos, server.ExtentHole|server.ExtentZero)
	}
	return nil
}

// openHandles returns the handles opened so far.
func (d *testDisk) openHandles() []*testHandle {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.handles)
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// contents returns a copy of [off, off+n) of the disk, bypassing the server.
func (d *testDisk) contents(off, n int64) []byte {
	p := make([]byte, n)
	d.read(p, off)
	return p
}

// --- the server ---

type testServer struct {
	path   string
	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
}

// startServer serves layer on a Unix socket in a temporary directory until the test
// ends, and returns the socket's path.
func startServer(t testing.TB, layer server.Layer, opts server.Options) string {
	return startTestServer(t, layer, opts).path
}

func startTestServer(t testing.TB, layer server.Layer, opts server.Options) *testServer {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 { // sun_path holds 108 bytes
		var err error
		if dir, err = os.MkdirTemp("", "gonbd"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	path := filepath.Join(dir, "nbd.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, layer, opts)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	ts := &testServer{path: path, srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop cancels Serve, waits for it and closes the server; it may be called twice.
func (ts *testServer) stop(t testing.TB) error {
	t.Helper()
	ts.cancel()
	var err error
	select {
	case err = <-ts.done:
		ts.done <- err // for a second call
	case <-time.After(testTimeout):
		t.Errorf("Serve did not return within %v of its context being canceled", testTimeout)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ts.srv.Close(ctx) // errors on the second call only
	return err
}

// logBuffer collects a server's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// --- a raw client ---

type rawConn struct {
	t          testing.TB
	nc         net.Conn
	br         *bufio.Reader
	structured bool
	extended   bool
	size       uint64
	flags      protocol.TransmissionFlags
	sent       map[uint64]protocol.Request // requests awaiting replies, by cookie
	cookie     uint64
}

func dialRaw(t testing.TB, path string) *rawConn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc), sent: map[uint64]protocol.Request{}}
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) read(n int) []byte {
	c.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		c.t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// greet reads the newstyle greeting and answers with cflags.
func (c *rawConn) greet(cflags protocol.ClientFlags) protocol.HandshakeFlags {
	c.t.Helper()
	hf, err := protocol.DecodeNewstyleGreeting(c.read(protocol.NewstyleGreetingSize))
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(protocol.AppendClientFlags(nil, cflags))
	return hf
}

func (c *rawConn) sendOpt(opt protocol.Opt, payload []byte) {
	c.t.Helper()
	c.write(append(protocol.AppendOptionHeader(nil, opt, uint32(len(payload))), payload...))
}

func (c *rawConn) readOptReply() (protocol.OptionReplyHeader, []byte) {
	c.t.Helper()
	h, err := protocol.DecodeOptionReplyHeader(c.read(protocol.OptionReplyHeaderSize), 1<<20)
	if err != nil {
		c.t.Fatal(err)
	}
	return h, c.read(int(h.Length))
}

// expectOptReply reads one option reply and checks its option and type.
func (c *rawConn) expectOptReply(opt protocol.Opt, rep protocol.Rep) []byte {
	c.t.Helper()
	h, p := c.readOptReply()
	if h.Opt != opt || h.Type != rep {
		c.t.Fatalf("option reply %v %v (%q), want %v %v", h.Opt, h.Type, p, opt, rep)
	}
	return p
}

// option sends an option and reads one reply.
func (c *rawConn) option(opt protocol.Opt, payload []byte, rep protocol.Rep) []byte {
	c.t.Helper()
	c.sendOpt(opt, payload)
	return c.expectOptReply(opt, rep)
}

// expectClosed checks that the server closes the connection (without sending more).
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := io.ReadAll(io.LimitReader(c.br, 64))
		c.t.Fatalf("server sent %q, want the connection closed", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", testTimeout)
	}
}

// negotiation describes what negotiate asks for.
type negotiation struct {
	structured bool
	extended   bool
	meta       bool   // SET_META_CONTEXT base:allocation
	export     string // the export to GO to
}

// negotiate runs a fixed newstyle handshake with GO.
func negotiate(t testing.TB, path string, n negotiation) *rawConn {
	t.Helper()
	c := dialRaw(t, path)
	c.greet(protocol.ClientFixedNewstyle | protocol.ClientNoZeroes)
	if n.extended {
		c.option(protocol.OptExtendedHeaders, nil, protocol.RepAck)
		c.structured, c.extended = true, true
	} else if n.structured {
		c.option(protocol.OptStructuredReply, nil, protocol.RepAck)
		c.structured = true
	}
	if n.meta {
		c.sendOpt(protocol.OptSetMetaContext, protocol.AppendMetaContextRequest(nil,
			protocol.MetaContextRequest{Name: n.export, Queries: []string{protocol.MetaContextBaseAllocation}}))
		p := c.expectOptReply(protocol.OptSetMetaContext, protocol.RepMetaContext)
		if id, name, _ := protocol.DecodeMetaContextReply(p); name != protocol.MetaContextBaseAllocation || id == 0 {
			t.Fatalf("meta context %d %q", id, name)
		}
		c.expectOptReply(protocol.OptSetMetaContext, protocol.RepAck)
	}
	c.goExport(n.export)
	return c
}

// goExport sends GO and reads the replies up to the ACK.
func (c *rawConn) goExport(name string) {
	c.t.Helper()
	c.sendOpt(protocol.OptGo, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: name}))
	for {
		h, p := c.readOptReply()
		switch {
		case h.Type == protocol.RepAck:
			return
		case h.Type == protocol.RepInfo:
			info, err := protocol.DecodeInfoReply(p)
			if err != nil {
				c.t.Fatal(err)
			}
			if info.Type == protocol.InfoExport {
				c.size, c.flags = info.Size, info.Flags
			}
		default:
			c.t.Fatalf("GO: reply %v %q", h.Type, p)
		}
	}
}

// send sends a request; the cookie is chosen when r.Cookie is 0.
func (c *rawConn) send(r protocol.Request, payload []byte) uint64 {
	c.t.Helper()
	if r.Cookie == 0 {
		c.cookie++
		r.Cookie = c.cookie
	}
	c.sent[r.Cookie] = r
	c.write(append(protocol.AppendRequest(nil, &r, c.extended), payload...))
	return r.Cookie
}

// A chunk is one structured or extended reply chunk.
type chunk struct {
	flags   protocol.ReplyFlags
	typ     protocol.ReplyType
	offset  uint64 // of an extended reply header
	payload []byte
}

// A reply is the whole reply to one request.
type reply struct {
	cookie  uint64
	magic   uint32
	errno   protocol.Errno // of a simple reply or of the error chunk
	message string
	chunks  []chunk
	data    []byte // a simple read reply's data
}

// readReply reads every chunk of the next reply.
func (c *rawConn) readReply() reply {
	c.t.Helper()
	var rep reply
	for {
		var h protocol.ReplyHeader
		head, err := c.br.Peek(4)
		if err != nil {
			c.t.Fatalf("read reply: %v", err)
		}
		n := protocol.ReplyHeaderSize(binary.BigEndian.Uint32(head))
		if n == 0 {
			c.t.Fatalf("reply magic %x", head)
		}
		if err := protocol.DecodeReplyHeader(c.read(n), 1<<31, &h); err != nil {
			c.t.Fatal(err)
		}
		req, ok := c.sent[h.Cookie]
		if !ok {
			c.t.Fatalf("reply to unknown cookie %d", h.Cookie)
		}
		rep.cookie, rep.magic = h.Cookie, h.Magic
		if h.Magic == protocol.SimpleReplyMagic {
			if c.extended || (c.structured && req.Type == protocol.CmdRead) {
				c.t.Fatalf("simple reply to %v (structured=%v, extended=%v)", req.Type, c.structured, c.extended)
			}
			rep.errno = h.Errno
			if req.Type == protocol.CmdRead && h.Errno == 0 {
				rep.data = c.read(int(req.Length))
			}
			delete(c.sent, h.Cookie)
			return rep
		}
		if c.extended != (h.Magic == protocol.ExtendedReplyMagic) {
			c.t.Fatalf("reply magic %#x with extended=%v", h.Magic, c.extended)
		}
		ch := chunk{flags: h.Flags, typ: h.Type, offset: h.Offset, payload: c.read(int(h.Length))}
		if h.Type.IsError() {
			ec, err := protocol.DecodeErrorChunk(h.Type, ch.payload)
			if err != nil {
				c.t.Fatal(err)
			}
			rep.errno, rep.message = ec.Errno, ec.Message
		}
		rep.chunks = append(rep.chunks, ch)
		if h.Flags&protocol.ReplyFlagDone != 0 {
			delete(c.sent, h.Cookie)
			return rep
		}
	}
}

// do sends a request and reads its reply.
func (c *rawConn) do(r protocol.Request, payload []byte) reply {
	c.t.Helper()
	cookie := c.send(r, payload)
	rep := c.readReply()
	if rep.cookie != cookie {
		c.t.Fatalf("reply to cookie %d, want %d", rep.cookie, cookie)
	}
	return rep
}

// readData reassembles the data of a successful read reply of length bytes at off,
// checking that the chunks cover the range exactly once.
func (c *rawConn) readData(rep reply, off, length uint64) []byte {
	c.t.Helper()
	if rep.errno != 0 {
		c.t.Fatalf("read failed: %v %q", rep.errno, rep.message)
	}
	if rep.magic == protocol.SimpleReplyMagic {
		return rep.data
	}
	out := make([]byte, length)
	covered := make([]bool, length)
	cover := func(o, n uint64) {
		if o < off || o+n > off+length || n == 0 {
			c.t.Fatalf("chunk [%d,+%d) outside the read [%d,+%d)", o, n, off, length)
		}
		for i := o - off; i < o-off+n; i++ {
			if covered[i] {
				c.t.Fatalf("byte %d covered twice", off+i)
			}
			covered[i] = true
		}
	}
	for _, ch := range rep.chunks {
		switch ch.typ {
		case protocol.ReplyTypeOffsetData:
			o := binary.BigEndian.Uint64(ch.payload)
			d := ch.payload[8:]
			cover(o, uint64(len(d)))
			copy(out[o-off:], d)
		case protocol.ReplyTypeOffsetHole:
			o, n, err := protocol.DecodeOffsetHole(ch.payload)
			if err != nil {
				c.t.Fatal(err)
			}
			cover(o, uint64(n))
		case protocol.ReplyTypeNone:
		default:
			c.t.Fatalf("chunk type %v in a read reply", ch.typ)
		}
	}
	for i, ok := range covered {
		if !ok {
			c.t.Fatalf("byte %d of the read not covered", off+uint64(i))
		}
	}
	return out
}

// blockStatus decodes the descriptors of a successful block status reply.
func (c *rawConn) blockStatus(rep reply) []protocol.BlockDescriptor {
	c.t.Helper()
	if rep.errno != 0 {
		c.t.Fatalf("block status failed: %v %q", rep.errno, rep.message)
	}
	var ds []protocol.BlockDescriptor
	for _, ch := range rep.chunks {
		want := protocol.ReplyTypeBlockStatus
		if c.extended {
			want = protocol.ReplyTypeBlockStatusExt
		}
		if ch.typ != want {
			c.t.Fatalf("chunk type %v, want %v", ch.typ, want)
		}
		var err error
		if _, ds, err = protocol.DecodeBlockStatus(ch.payload, c.extended, ds); err != nil {
			c.t.Fatal(err)
		}
	}
	return ds
}

// pattern returns n bytes that differ with seed and position.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i/7) ^ seed ^ byte(i>>12)
	}
	return p
}

func errnoOf(rep reply) string {
	if rep.message != "" {
		return fmt.Sprintf("%v (%q)", rep.errno, rep.message)
	}
	return rep.errno.String()
}
