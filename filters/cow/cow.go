package cow

import (
	"context"
	"errors"
	"math"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Filter is the cow filter in front of the next layer: it opens the next layer
// read-only and keeps every change in an overlay shared by all connections.
type Filter struct {
	server.PassThrough
	opts Options

	mu      sync.Mutex // guards overlay while it is made and closed
	overlay *overlay

	// blocks holds *[]byte of one block, for read-modify-write and copy-on-read.
	blocks sync.Pool
	// extentLists holds the *server.ExtentList used to ask the next layer.
	extentLists sync.Pool
}

// New returns the filter in front of next. The overlay file is made by GetReady, or
// by the first connection if GetReady was not called.
func New(next server.Layer, opts Options) (*Filter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
	f.blocks.New = func() any {
		b := make([]byte, opts.BlockSize)
		return &b
	}
	f.extentLists.New = func() any { return new(server.ExtentList) }
	return f, nil
}

// GetReady makes the overlay file, so that an unusable TMPDIR stops the server from
// starting rather than failing the first client.
func (f *Filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	_, err := f.getOverlay()
	return err
}

// getOverlay returns the overlay, making it on first use.
func (f *Filter) getOverlay() (*overlay, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.overlay == nil {
		o, err := newOverlay(f.opts.TempDir, f.opts.BlockSize)
		if err != nil {
			return nil, err
		}
		f.overlay = o
	}
	return f.overlay, nil
}

// Cleanup throws the overlay away, with every change made through the filter.
func (f *Filter) Cleanup(ctx context.Context) {
	f.mu.Lock()
	if f.overlay != nil {
		f.overlay.close()
		f.overlay = nil
	}
	f.mu.Unlock()
	f.Next.Cleanup(ctx)
}

// Open opens the next layer read-only: nothing is ever written to it.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	req.ReadOnly = true
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f}, nil
}

// handle is one connection's view: the shared overlay over its own next handle.
type handle struct {
	server.PassThroughHandle
	filter *Filter
	// Set by Prepare, read-only afterwards.
	overlay  *overlay
	nextCaps server.Capabilities
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, true); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	if h.nextCaps, err = h.Next.Capabilities(ctx); err != nil {
		return err
	}
	if h.overlay, err = h.filter.getOverlay(); err != nil {
		return err
	}
	return h.overlay.setSize(size)
}

// Capabilities: everything that changes data happens in the overlay, so the export is
// writable even over a read-only plugin, zeroing is always fast, FUA costs nothing
// (the overlay is thrown away anyway), and all connections see one overlay.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c := h.nextCaps
	c.Write, c.Flush, c.Trim, c.Zero, c.FastZero, c.Extents = true, true, true, true, true, true
	c.FUA = server.FUANative
	c.MultiConn = true
	c.Cache = server.CacheNative
	return c, nil
}

// BlockSize prefers the overlay's block size, with which writes need no
// read-modify-write.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return bs, err
	}
	preferred := uint32(min(h.overlay.blockSize, 32<<20))
	if bs == (server.BlockSize{}) {
		return server.BlockSize{Minimum: 1, Preferred: preferred, Maximum: math.MaxUint32}, nil
	}
	if preferred > bs.Preferred && preferred <= bs.Maximum {
		bs.Preferred = preferred
	}
	return bs, nil
}

// Flush has nothing to do: the overlay is thrown away when the server exits, so there
// is nothing to make durable, and nothing is ever written to the next layer.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error { return nil }

// blocks returns the first and last block that [off, off+length) touches; length > 0.
func (h *handle) blocks(off, length int64) (first, last int64) {
	bs := h.overlay.blockSize
	return off / bs, (off + length - 1) / bs
}

// getBlock returns a block-sized buffer from the pool, and putBlock gives it back.
func (h *handle) getBlock() *[]byte  { return h.filter.blocks.Get().(*[]byte) }
func (h *handle) putBlock(b *[]byte) { h.filter.blocks.Put(b) }

// loadBlock fills buf (blockLen(b) bytes) with the current contents of block b, from
// the overlay or the next layer; the block is locked.
func (h *handle) loadBlock(ctx context.Context, b int64, buf []byte) error {
	o := h.overlay
	switch o.state(b) {
	case allocated:
		return o.readFile(buf, b*o.blockSize)
	case zeroed:
		clear(buf)
		return nil
	}
	return h.Next.ReadAt(ctx, buf, b*o.blockSize, 0)
}

// copyUp copies block b from the next layer into the overlay unless it is there
// already, and leaves the block's contents in buf. It is copy-on-read and
// copy-on-cache.
func (h *handle) copyUp(ctx context.Context, b int64, buf []byte) error {
	o := h.overlay
	o.lock(b)
	defer o.unlock(b)
	buf = buf[:o.blockLen(b)]
	if err := h.loadBlock(ctx, b, buf); err != nil {
		return err
	}
	if o.state(b) != unallocated {
		return nil
	}
	return o.writeBlock(b, buf)
}

// errStopped is returned by helpers of Extents when the list is complete.
var errStopped = errors.New("enough extents")
