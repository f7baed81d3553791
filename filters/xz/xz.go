package xz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Filter serves the uncompressed contents of the xz file that the next layer serves,
// read-only, with random access through the file's own index of blocks: a read
// decompresses the blocks it touches, which a cache of the most recently used ones,
// shared by every connection, keeps for the next reads.
type Filter struct {
	server.PassThrough
	opts Options
	log  *slog.Logger

	// ctx bounds the background reading of indexes; Cleanup cancels it and waits
	// for wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	exports map[string]*export
}

// export is the index of one export of the next layer, and its cache.
type export struct {
	name  string
	done  chan struct{} // closed once x or err is set
	x     *index
	err   error
	cache *blockCache
}

// New returns the filter in front of next. logger may be nil.
func New(next server.Layer, opts Options, logger *slog.Logger) (*Filter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Filter{
		PassThrough: server.PassThrough{Next: next},
		opts:        opts,
		log:         logger,
		ctx:         ctx,
		cancel:      cancel,
		exports:     make(map[string]*export),
	}, nil
}

// Name returns the filter's name, for logs and errors.
func (f *Filter) Name() string { return "xz" }

// GetReady starts reading the default export's index, so that a file the filter
// cannot serve is reported in the log at once, and the first client waits less.
func (f *Filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	name, err := f.Next.DefaultExport(ctx, true)
	if err != nil {
		f.log.Debug("cannot resolve the default export to read its index early", "err", err)
		return nil
	}
	f.export(name)
	return nil
}

// Cleanup stops the index reading still running and cleans the next layer up.
func (f *Filter) Cleanup(ctx context.Context) {
	f.cancel()
	f.wg.Wait()
	f.Next.Cleanup(ctx)
}

// export returns the index of the export called name, starting to read it if nobody
// has, or if the last attempt failed.
func (f *Filter) export(name string) *export {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.exports[name]; ok {
		return e
	}
	e := &export{name: name, done: make(chan struct{}), cache: newBlockCache(f.opts.MaxDepth)}
	f.exports[name] = e
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(e.done)
		e.x, e.err = f.readIndex(f.ctx, name)
		if e.err != nil {
			// The connections waiting get the error; the next one tries again, in
			// case the plugin failed for a passing reason.
			f.mu.Lock()
			delete(f.exports, name)
			f.mu.Unlock()
		}
	}()
	return e
}

// readIndex opens the export of the next layer and reads its index.
func (f *Filter) readIndex(ctx context.Context, name string) (x *index, err error) {
	start := time.Now()
	h, err := f.Next.Open(ctx, server.OpenRequest{ExportName: name, ReadOnly: true})
	if err != nil {
		return nil, f.indexError(name, fmt.Errorf("opening the compressed data: %w", err))
	}
	defer func() {
		if cerr := h.Close(ctx); cerr != nil && err == nil {
			f.log.Warn("closing the handle used to read the xz index", "export", name, "err", cerr)
		}
	}()
	if err := h.Prepare(ctx, true); err != nil {
		return nil, f.indexError(name, fmt.Errorf("opening the compressed data: %w", err))
	}
	defer h.Finalize(ctx)
	r, err := newReader(ctx, h)
	if err != nil {
		return nil, f.indexError(name, err)
	}
	x, err = readIndex(ctx, func(p []byte, off int64) error { return r.readAt(ctx, p, off) }, r.size)
	if err != nil {
		return nil, f.indexError(name, err)
	}
	if x.maxBlock > f.opts.MaxBlock {
		return nil, f.indexError(name, fmt.Errorf(
			"the file's largest block is %d bytes, more than xz-max-block=%d: recompress it with smaller "+
				"blocks (xz --block-size=16MiB) or raise xz-max-block", x.maxBlock, f.opts.MaxBlock))
	}
	f.log.Info("read the xz index",
		"export", name, "bytes", x.size, "compressed_bytes", x.compressedSize, "streams", x.streams,
		"blocks", len(x.blocks), "largest_block", x.maxBlock, "elapsed", time.Since(start).Round(time.Millisecond))
	if len(x.blocks) == 1 {
		f.log.Warn("the xz file has a single block: every read that misses the cache decompresses "+
			"it from the start; recompress it with smaller blocks (xz --block-size=16MiB) for fast random access",
			"export", name, "block_bytes", x.maxBlock)
	}
	for t := range x.checks {
		if t != checkNone && t != checkCRC32 && t != checkCRC64 && t != checkSHA256 {
			f.log.Warn("the xz file uses a check type that cannot be verified", "export", name, "check", t)
		}
	}
	return x, nil
}

// indexError logs why an export cannot be served, once, and returns the error the
// connections to it fail with.
func (f *Filter) indexError(name string, err error) error {
	if errors.Is(err, context.Canceled) {
		return server.Errorf(syscall.ESHUTDOWN, "the server is shutting down")
	}
	f.log.Error("cannot serve the xz file", "export", name, "err", err)
	return server.Errorf(syscall.EIO, "cannot serve the xz file: %w", err)
}

// Open opens the next layer read-only: the filter never writes.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	next, err := f.Next.Open(ctx, server.OpenRequest{ExportName: req.ExportName, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, f: f, name: req.ExportName}, nil
}

// handle is one connection's view of the uncompressed data.
type handle struct {
	server.PassThroughHandle
	f    *Filter
	name string

	// Set by Prepare.
	export *export
	x      *index
	r      *reader
}

// Prepare waits for the export's index.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, true); err != nil {
		return err
	}
	r, err := newReader(ctx, h.Next)
	if err != nil {
		return err
	}
	h.r = r
	h.export = h.f.export(h.name)
	select {
	case <-h.export.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if h.export.err != nil {
		return h.export.err
	}
	h.x = h.export.x
	return nil
}

// Size returns the size of the uncompressed data.
func (h *handle) Size(ctx context.Context) (int64, error) { return h.x.size, nil }

// BlockSize says nothing: the next layer's constraints apply to the compressed data,
// which the filter reads as it needs.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	return server.BlockSize{}, nil
}

// Capabilities are those of a read-only disk whose cache requests the filter answers
// itself; a flush goes to the next layer, and extents are all data, as in nbdkit.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return c, err
	}
	c.Write, c.Trim, c.Zero, c.FastZero = false, false, false, false
	c.FUA = server.FUANone
	c.Extents = false
	c.Cache = server.CacheNative
	// Every connection reads the same immutable data.
	c.MultiConn = true
	return c, nil
}

// ReadAt copies from the blocks holding the range, decompressed as needed.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	for len(p) > 0 {
		i := h.x.find(off)
		data, err := h.block(ctx, i)
		if err != nil {
			return err
		}
		n := copy(p, data[off-h.x.blocks[i].out:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// block returns block i, from the cache or decompressed.
func (h *handle) block(ctx context.Context, i int) ([]byte, error) {
	load := func() ([]byte, error) { return h.decode(ctx, i) }
	data, err := h.export.cache.get(ctx, i, load)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
		// Another connection's request was decompressing the block and went away;
		// decompress it for this one.
		data, err = h.export.cache.get(ctx, i, load)
	}
	return data, err
}

// decode reads and decompresses block i.
func (h *handle) decode(ctx context.Context, i int) ([]byte, error) {
	b := &h.x.blocks[i]
	raw := make([]byte, padTo4(b.unpadded))
	if err := h.r.readAt(ctx, raw, b.in); err != nil {
		return nil, err
	}
	out := make([]byte, b.size)
	if err := decodeBlock(b, raw, out); err != nil {
		return nil, server.Errorf(syscall.EIO,
			"the xz block at offset %d of the file (uncompressed offset %d) is corrupt: %w", b.in, b.out, err)
	}
	return out, nil
}

// Extents reports everything as data, as nbdkit's filter does: what is zero is only
// known once a block is decompressed.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}

// Cache decompresses the blocks holding the range into the cache, as far as it holds.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	for pos := off; pos < off+length; {
		i := h.x.find(pos)
		if _, err := h.block(ctx, i); err != nil {
			return err
		}
		pos = h.x.blocks[i].out + h.x.blocks[i].size
	}
	return nil
}

// The filter is read-only: the server refuses writes before they get here, since
// Capabilities says so; these keep a mistake from reaching the compressed data.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return errReadOnly
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return errReadOnly
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return errReadOnly
}

var errReadOnly = server.Errorf(syscall.EROFS, "the xz filter is read-only")
