package gzip

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

// Filter serves the uncompressed contents of the gzip file that the next layer serves,
// read-only. Each export of the next layer is indexed once, in the background, starting
// with the default export when the server gets ready; connections wait for the index
// of their export, which every connection shares along with its cache of decompressed
// spans.
type Filter struct {
	server.PassThrough
	opts Options
	log  *slog.Logger

	// decoders holds *spanDecoder.
	decoders sync.Pool

	// ctx bounds the background indexing; Cleanup cancels it and waits for wg.
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
	cache *spanCache
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
	f := &Filter{
		PassThrough: server.PassThrough{Next: next},
		opts:        opts,
		log:         logger,
		ctx:         ctx,
		cancel:      cancel,
		exports:     make(map[string]*export),
	}
	f.decoders.New = func() any { return &spanDecoder{src: newSource(spanReadSize)} }
	return f, nil
}

// Name returns the filter's name, for logs and errors.
func (f *Filter) Name() string { return "gzip" }

// GetReady starts indexing the default export, so that the first client waits less
// (the size of the uncompressed data is known only once the whole stream has been
// decompressed).
func (f *Filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	name, err := f.Next.DefaultExport(ctx, true)
	if err != nil {
		// Not fatal: the first connection to ask for an export indexes it.
		f.log.Debug("cannot resolve the default export to index it early", "err", err)
		return nil
	}
	f.export(name)
	return nil
}

// Cleanup stops the indexing still running and cleans the next layer up.
func (f *Filter) Cleanup(ctx context.Context) {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	for _, e := range f.exports {
		spans, bytes := e.cache.stats()
		f.log.Debug("gzip cache at cleanup", "export", e.name, "spans", spans, "bytes", bytes)
	}
	f.mu.Unlock()
	f.Next.Cleanup(ctx)
}

// export returns the index of the export called name, starting to build it if nobody
// has, or if the last attempt failed.
func (f *Filter) export(name string) *export {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.exports[name]; ok {
		return e
	}
	e := &export{name: name, done: make(chan struct{}), cache: newSpanCache(f.opts.CacheSize)}
	f.exports[name] = e
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(e.done)
		e.x, e.err = f.buildIndex(f.ctx, name)
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

// buildIndex opens the export of the next layer and indexes it.
func (f *Filter) buildIndex(ctx context.Context, name string) (x *index, err error) {
	start := time.Now()
	h, err := f.Next.Open(ctx, server.OpenRequest{ExportName: name, ReadOnly: true})
	if err != nil {
		return nil, f.indexError(name, fmt.Errorf("opening the compressed data: %w", err))
	}
	defer func() {
		if cerr := h.Close(ctx); cerr != nil && err == nil {
			f.log.Warn("closing the handle used to index the gzip file", "export", name, "err", cerr)
		}
	}()
	if err := h.Prepare(ctx, true); err != nil {
		return nil, f.indexError(name, fmt.Errorf("opening the compressed data: %w", err))
	}
	defer h.Finalize(ctx)
	size, err := h.Size(ctx)
	if err != nil {
		return nil, f.indexError(name, fmt.Errorf("reading the size of the compressed data: %w", err))
	}
	bs, err := h.BlockSize(ctx)
	if err != nil {
		return nil, f.indexError(name, fmt.Errorf("reading the block size of the compressed data: %w", err))
	}
	src := newSource(indexReadSize)
	src.reset(ctx, h, size, 0, bs)
	defer src.release()
	f.log.Debug("indexing the gzip file", "export", name, "compressed_bytes", size, "span", f.opts.SpanSize)
	x, err = buildIndex(ctx, src, size, f.opts.SpanSize)
	if err != nil {
		return nil, f.indexError(name, err)
	}
	f.log.Info("indexed the gzip file",
		"export", name, "bytes", x.size, "compressed_bytes", size, "members", x.members,
		"spans", len(x.spans), "index_bytes", x.memory(), "elapsed", time.Since(start).Round(time.Millisecond))
	return x, nil
}

// indexError logs why an export cannot be served, once, and returns the error the
// connections to it fail with.
func (f *Filter) indexError(name string, err error) error {
	if errors.Is(err, context.Canceled) {
		return server.Errorf(syscall.ESHUTDOWN, "the server is shutting down")
	}
	f.log.Error("cannot serve the gzip file", "export", name, "err", err)
	return server.Errorf(syscall.EIO, "cannot serve the gzip file: %w", err)
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
	bs     server.BlockSize // the next layer's
}

// Prepare waits for the export's index.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, true); err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	h.bs = bs
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

// Capabilities are those of a read-only disk whose extents and cache the filter
// answers itself; a flush goes to the next layer as in nbdkit.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return c, err
	}
	c.Write, c.Trim, c.Zero, c.FastZero = false, false, false, false
	c.FUA = server.FUANone
	c.Extents = true
	c.Cache = server.CacheNative
	// Every connection reads the same immutable data.
	c.MultiConn = true
	return c, nil
}

// ReadAt reads uncompressed data: blocks the index knows to be zeroes are cleared, the
// rest copied from the spans holding them, decompressed as needed.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	x := h.x
	for len(p) > 0 {
		n := int(min(int64(len(p)), zeroBlock-off%zeroBlock))
		if x.zero.get(off / zeroBlock) {
			clear(p[:n])
			p, off = p[n:], off+int64(n)
			continue
		}
		i := x.span(off)
		data, err := h.span(ctx, i)
		if err != nil {
			return err
		}
		n = copy(p, data[off-x.spans[i].out:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// span returns span i, from the cache or decompressed.
func (h *handle) span(ctx context.Context, i int) ([]byte, error) {
	load := func() ([]byte, error) {
		d := h.f.decoders.Get().(*spanDecoder)
		defer h.f.decoders.Put(d)
		return d.decodeSpan(ctx, h.Next, h.bs, h.x, i)
	}
	data, err := h.export.cache.get(ctx, i, load)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
		// Another connection's request was loading the span and went away; load
		// it for this one.
		data, err = h.export.cache.get(ctx, i, load)
	}
	return data, err
}

// Extents reports the blocks of zeroes the index found as such, and the rest as data.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	x := h.x
	end := off + length
	first := true
	var firstType server.ExtentType
	for pos := off; pos < end; {
		b := pos / zeroBlock
		t := server.ExtentData
		if x.zero.get(b) {
			t = server.ExtentZero
		}
		if first {
			first, firstType = false, t
		} else if flags&server.FlagReqOne != 0 && t != firstType {
			return nil
		}
		next := min((b+1)*zeroBlock, x.size)
		if err := e.Add(pos, next-pos, t); err != nil {
			return err
		}
		pos = next
	}
	return nil
}

// Cache decompresses the spans holding the range into the cache.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	x := h.x
	for pos := off; pos < off+length; {
		i := x.span(pos)
		end := x.spanEnd(i)
		if !x.allZero(pos, min(end, off+length)-pos) {
			if _, err := h.span(ctx, i); err != nil {
				return err
			}
		}
		pos = end
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

var errReadOnly = server.Errorf(syscall.EROFS, "the gzip filter is read-only")
