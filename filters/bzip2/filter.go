package bzip2

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

// Options configure the filter. The zero value uses the defaults.
type Options struct {
	// MaxDepth is how many decompressed blocks are kept, shared by all connections.
	// Default 16. A block holds up to 900 kB of data, usually.
	MaxDepth int
	// Logger receives the filter's messages. Default: none are logged.
	Logger *slog.Logger
}

// DefaultMaxDepth is the default of Options.MaxDepth.
const DefaultMaxDepth = 16

// New returns a layer that serves the decompressed contents of the bzip2 file next
// serves, read-only. The file is indexed, which means decompressing it once, when the
// first client opens the export.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, cache: newBlockCache(opts.MaxDepth),
		lock: make(chan struct{}, 1)}, nil
}

type filter struct {
	server.PassThrough
	opts  Options
	cache *blockCache

	// lock is a mutex that a waiting connection can give up on: held while the
	// index is built, by the start-up indexing or by a connection.
	lock  chan struct{}
	index *index // nil until built

	stopIndexing context.CancelFunc // ends the start-up indexing
	indexing     sync.WaitGroup
}

func (f *filter) Name() string { return "bzip2" }

// Open opens the file read-only: the filter never writes to it.
func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	req.ReadOnly = true
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// GetReady starts indexing the file in the background, as soon as the layers behind
// are ready, so that the first client does not wait for all of it, which could take
// longer than the server gives a handshake.
func (f *filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	ctx, f.stopIndexing = context.WithCancel(context.WithoutCancel(ctx))
	f.lock <- struct{}{} // connections wait for the start-up indexing
	f.indexing.Add(1)
	go func() {
		defer f.indexing.Done()
		defer func() { <-f.lock }()
		if err := f.indexAtStart(ctx); err != nil {
			f.opts.Logger.Warn("indexing the bzip2 file at start-up failed; the first connection will try again", "err", err)
		}
	}()
	return nil
}

// indexAtStart indexes the file of the default export through a handle of its own.
func (f *filter) indexAtStart(ctx context.Context) error {
	name, err := f.Next.DefaultExport(ctx, true)
	if err != nil {
		return err
	}
	h, err := f.Next.Open(ctx, server.OpenRequest{ExportName: name, ReadOnly: true})
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, true); err != nil {
		return err
	}
	defer h.Finalize(ctx)
	fileSize, err := h.Size(ctx)
	if err != nil {
		return err
	}
	f.opts.Logger.Info("indexing the bzip2 file", "compressed", fileSize)
	f.index, err = f.build(ctx, h, fileSize)
	return err
}

// Cleanup stops the start-up indexing, if it still runs.
func (f *filter) Cleanup(ctx context.Context) {
	if f.stopIndexing != nil {
		f.stopIndexing()
		f.indexing.Wait()
	}
	f.Next.Cleanup(ctx)
}

// indexFor returns the file's index, building it through h if it was not built yet,
// and waiting for it if it is being built. The index and the decompressed blocks are
// shared by every connection, as in nbdkit: the plugin must serve the same file to
// all of them, which fileSize checks as far as it can.
func (f *filter) indexFor(ctx context.Context, h server.LayerHandle, fileSize int64) (*index, error) {
	select {
	case f.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the bzip2 file to be indexed: %w", ctx.Err())
	}
	defer func() { <-f.lock }()
	if f.index == nil {
		x, err := f.build(ctx, h, fileSize)
		if err != nil {
			return nil, err
		}
		f.index = x
	}
	if f.index.fileSize != fileSize {
		return nil, server.Errorf(syscall.EINVAL,
			"the compressed file is %d bytes, not the %d bytes it was when its index was read", fileSize, f.index.fileSize)
	}
	return f.index, nil
}

// build indexes the file of fileSize bytes that h reads.
func (f *filter) build(ctx context.Context, h server.LayerHandle, fileSize int64) (*index, error) {
	start := time.Now()
	read := func(ctx context.Context, p []byte, off int64) error { return h.ReadAt(ctx, p, off, 0) }
	x, err := buildIndex(ctx, read, fileSize)
	if err != nil {
		errno := syscall.EINVAL // not bzip2 at all
		if errors.Is(err, errCorrupt) {
			errno = syscall.EIO
		}
		return nil, server.Errorf(errno, "%w", err)
	}
	f.opts.Logger.Info("indexed the bzip2 file", "blocks", len(x.blocks), "compressed", fileSize,
		"size", x.dataSize, "took", time.Since(start).Round(time.Millisecond))
	return x, nil
}

// handle serves one connection.
type handle struct {
	server.PassThroughHandle
	f     *filter
	index *index // set by Prepare
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, true); err != nil {
		return err
	}
	fileSize, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	h.index, err = h.f.indexFor(ctx, h.Next, fileSize)
	return err
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.index.dataSize, nil }

// BlockSize sets no constraints: the decompressed data can be read at any offset.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	return server.BlockSize{}, nil
}

// Capabilities: read-only; cache requests decompress blocks ahead of reads.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	next, err := h.Next.Capabilities(ctx)
	if err != nil {
		return next, err
	}
	return server.Capabilities{Flush: next.Flush, MultiConn: true, Cache: server.CacheNative, Rotational: next.Rotational}, nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	for len(p) > 0 {
		i := h.index.find(off)
		data, err := h.block(ctx, i)
		if err != nil {
			return err
		}
		n := copy(p, data[off-h.index.blocks[i].dataOffset:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// Cache decompresses the blocks holding the range into the cache.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	for end := off + length; off < end; {
		i := h.index.find(off)
		if _, err := h.block(ctx, i); err != nil {
			return err
		}
		b := h.index.blocks[i]
		off = b.dataOffset + b.dataSize
	}
	return nil
}

// Extents: the decompressed data has no holes that the filter knows of.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}

// block returns block i decompressed, from the cache or the file.
func (h *handle) block(ctx context.Context, i int) ([]byte, error) {
	if data, ok := h.f.cache.lookup(i); ok {
		return data, nil
	}
	b := h.index.blocks[i]
	return h.f.cache.get(i, func() ([]byte, error) {
		off, length := b.byteRange()
		src := make([]byte, length)
		if err := h.Next.ReadAt(ctx, src, off, 0); err != nil {
			return nil, fmt.Errorf("reading bzip2 block %d at %d: %w", i, off, err)
		}
		data := make([]byte, b.dataSize)
		if err := decodeBlock(b, src, data); err != nil {
			return nil, server.Errorf(syscall.EIO, "bzip2 block %d at byte %d (bit %d): %v", i, off, b.bit%8, err)
		}
		return data, nil
	})
}
