package readahead

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// The window is how far past a read the filter reads ahead. It starts at MinWindow,
// doubles each time the client reads on from where the previous read ended, up to
// MaxWindow, and falls back to MinWindow when the client reads elsewhere.
const (
	MinWindow = 64 << 10
	MaxWindow = 4 << 20
)

// Filter is the readahead filter in front of the next layer.
//
// Each connection keeps the data it read ahead in a buffer of its own. Any change to
// the data, on any connection, makes every buffer stale: a generation counter shared
// by the connections says so.
type Filter struct {
	server.PassThrough
	// generation counts the changes made to the data through this filter.
	generation atomic.Uint64
}

// New returns the filter in front of next.
func New(next server.Layer) *Filter {
	return &Filter{PassThrough: server.PassThrough{Next: next}}
}

// Open opens the next layer and wraps its handle.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f, window: MinWindow}, nil
}

type handle struct {
	server.PassThroughHandle
	filter *Filter
	size   int64 // set by Prepare
	// chunk is the most one read of the next layer may ask for. Set by Prepare.
	chunk int64

	mu sync.Mutex // guards the fields below, never held while reading the next layer
	// buf holds the bytes of [bufOff, bufOff+len(buf)) as they were at generation
	// bufGen; spare is the previous buffer, kept to be reused.
	buf, spare []byte
	bufOff     int64
	bufGen     uint64
	// lastEnd is where the client's last read ended, to recognise sequential reads.
	lastEnd int64
	window  int64
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	h.size, h.chunk = size, 1<<62
	if bs.Maximum != 0 {
		h.chunk = int64(bs.Maximum)
	}
	return nil
}

// ReadAt serves what it can from the buffer, and reads the rest together with the
// window that follows it in one read of the next layer, keeping it in the buffer for
// the reads to come.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.mu.Lock()
	n := h.fromBuffer(p, off)
	p, off = p[n:], off+int64(n)
	if len(p) == 0 {
		h.lastEnd = off
		h.mu.Unlock()
		return nil
	}
	if n > 0 || off == h.lastEnd {
		h.window = min(2*h.window, MaxWindow)
	} else {
		h.window = MinWindow
	}
	// A read of the next layer must stay within its maximum block size; the client's
	// own reads already do.
	length := min(int64(len(p))+h.window, h.size-off, max(h.chunk, int64(len(p))))
	buf := h.spare
	h.spare = nil
	h.mu.Unlock()

	if int64(cap(buf)) < length {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	generation := h.filter.generation.Load()
	if err := h.Next.ReadAt(ctx, buf, off, 0); err != nil {
		return err
	}
	copy(p, buf)

	h.mu.Lock()
	h.spare, h.buf = h.buf, buf
	h.bufOff, h.bufGen = off, generation
	h.lastEnd = off + int64(len(p))
	h.mu.Unlock()
	return nil
}

// fromBuffer copies to p what the buffer holds from off on, if it is current, and
// returns how much; h.mu is held.
func (h *handle) fromBuffer(p []byte, off int64) int {
	if h.buf == nil || h.bufGen != h.filter.generation.Load() {
		return 0
	}
	if off < h.bufOff || off >= h.bufOff+int64(len(h.buf)) {
		return 0
	}
	return copy(p, h.buf[off-h.bufOff:])
}

// invalidate makes every connection's buffer stale. It runs both before and after a
// change is made: before, so that no connection answers from its buffer while the
// change is under way; after, so that a buffer filled during the change is not kept.
func (h *handle) invalidate() { h.filter.generation.Add(1) }

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.invalidate()
	defer h.invalidate()
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	h.invalidate()
	defer h.invalidate()
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	h.invalidate()
	defer h.invalidate()
	return h.Next.Zero(ctx, off, length, flags)
}
