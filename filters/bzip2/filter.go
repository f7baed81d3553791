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
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, cache: newBlockCache(opts.MaxDepth)}, nil
}

type filter struct {
	server.PassThrough
	opts  Options
	cache *blockCache

	mu    sync.Mutex
	index *index // nil until a connection has read it
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

// indexFor returns the file's index, building it through h the first time. The index
// and the decompressed blocks are shared by every connection, as in nbdkit: the
// plugin must serve the same file to all of them, which fileSize checks as far as it
// can.
func (f *filter) indexFor(ctx context.Context, h server.LayerHandle, fileSize int64) (*index, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.index == nil {
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
		f.opts.Logger.Debug("indexed the bzip2 file", "blocks", len(x.blocks), "compressed", fileSize,
			"size", x.dataSize, "took", time.Since(start))
		f.index = x
	}
	if f.index.fileSize != fileSize {
		return nil, server.Errorf(syscall.EINVAL,
			"the compressed file is %d bytes, not the %d bytes it was when its index was read", fileSize, f.index.fileSize)
	}
	return f.index, nil
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
