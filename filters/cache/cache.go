package cache

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Filter is the cache filter in front of the next layer: a cache file shared by every
// connection, which serves reads and, in writeback and unsafe modes, holds writes
// until they are flushed.
type Filter struct {
	server.PassThrough
	opts      Options
	blockSize int64
	log       *slog.Logger

	mu    sync.Mutex // guards store while it is made and closed
	store *store

	// reclaimMu is held by the request reclaiming blocks; reclaiming says whether the
	// cache went past the high threshold and is not yet under the low one.
	reclaimMu  sync.Mutex
	reclaiming bool

	// blocks holds *[]byte of one block, for read-modify-write and filling the cache.
	blocks sync.Pool
	// zeroBlock is a block of zeroes, the source of zero requests. Never written.
	zeroBlock []byte
	// extentLists holds the *server.ExtentList used to ask the next layer.
	extentLists sync.Pool
}

// New returns the filter in front of next. log may be nil. The cache file is made by
// GetReady, or by the first connection if GetReady was not called.
func New(next server.Layer, opts Options, log *slog.Logger) (*Filter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	blockSize := max(opts.MinBlockSize, fsBlockSize(opts.TempDir))
	if opts.MaxSize > 0 && opts.MaxSize*int64(opts.LowThreshold)/100 < blockSize {
		return nil, fmt.Errorf("cache-max-size=%d: with cache-low-threshold=%d%% the cache could not hold one block of %d bytes",
			opts.MaxSize, opts.LowThreshold, blockSize)
	}
	f := &Filter{
		PassThrough: server.PassThrough{Next: next},
		opts:        opts,
		blockSize:   blockSize,
		log:         log,
		zeroBlock:   make([]byte, blockSize),
	}
	f.blocks.New = func() any {
		b := make([]byte, blockSize)
		return &b
	}
	f.extentLists.New = func() any { return new(server.ExtentList) }
	return f, nil
}

// BlockSizeInUse returns the cache's block size: Options.MinBlockSize, or the file
// system's block size if larger.
func (f *Filter) BlockSizeInUse() int64 { return f.blockSize }

// GetReady makes the cache file, so that an unusable TMPDIR stops the server from
// starting rather than failing the first client.
func (f *Filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	_, err := f.getStore()
	return err
}

// getStore returns the cache, making it on first use.
func (f *Filter) getStore() (*store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store == nil {
		s, err := newStore(f.opts.TempDir, f.blockSize, f.opts.MaxSize > 0)
		if err != nil {
			return nil, err
		}
		f.store = s
	}
	return f.store, nil
}

// Cleanup throws the cache away. Dirty blocks are lost, as in nbdkit: a client that
// wants its writes kept flushes them.
func (f *Filter) Cleanup(ctx context.Context) {
	f.mu.Lock()
	if f.store != nil {
		if _, dirty := f.store.counts(); dirty > 0 {
			f.log.Warn("cache: unflushed blocks lost at exit", "blocks", dirty)
		}
		f.store.close()
		f.store = nil
	}
	f.mu.Unlock()
	f.Next.Cleanup(ctx)
}

// Open opens the next layer and wraps its handle.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f}, nil
}

// handle is one connection's view: the shared cache over its own next handle.
type handle struct {
	server.PassThroughHandle
	filter *Filter
	// Set by Prepare, read-only afterwards.
	store    *store
	nextCaps server.Capabilities
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	if h.nextCaps, err = h.Next.Capabilities(ctx); err != nil {
		return err
	}
	if h.store, err = h.filter.getStore(); err != nil {
		return err
	}
	return h.store.setSize(size)
}

// Capabilities: the filter flushes, takes FUA and serves cache requests itself; zero
// requests are writes of zeroes into the cache, so they are as fast as writes; every
// connection shares the cache and a flush writes back every connection's blocks, so
// connections are consistent with each other.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c := h.nextCaps
	c.Flush = true
	c.Zero, c.FastZero = c.Write, c.Write
	c.Extents = true
	c.FUA = server.FUANative
	c.MultiConn = true
	c.Cache = server.CacheNative
	return c, nil
}

// BlockSize prefers the cache's block size, with which writes need no
// read-modify-write.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return bs, err
	}
	preferred := uint32(min(h.store.blockSize, 32<<20))
	if bs == (server.BlockSize{}) {
		return server.BlockSize{Minimum: 1, Preferred: preferred, Maximum: math.MaxUint32}, nil
	}
	if preferred > bs.Preferred && preferred <= bs.Maximum {
		bs.Preferred = preferred
	}
	return bs, nil
}

// blocks returns the first and last block that [off, off+length) touches; length > 0.
func (h *handle) blocks(off, length int64) (first, last int64) {
	bs := h.store.blockSize
	return off / bs, (off + length - 1) / bs
}

func (h *handle) getBlock() *[]byte  { return h.filter.blocks.Get().(*[]byte) }
func (h *handle) putBlock(b *[]byte) { h.filter.blocks.Put(b) }
