package lzip

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter. The zero value uses the defaults.
type Options struct {
	// MaxBlock is the largest decompressed member the filter accepts: a file with a
	// larger one is refused, since each member is decompressed whole into memory.
	// Default 512 MiB.
	MaxBlock int64
	// MaxDepth is how many decompressed members are kept, shared by all connections.
	// Default 8.
	MaxDepth int
	// Logger receives the filter's messages. Default: none are logged.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxBlock = 512 << 20
	DefaultMaxDepth = 8
)

// New returns a layer that serves the decompressed contents of the lzip file next
// serves, read-only. The file's member index is read when the first client opens the
// export.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.MaxBlock <= 0 {
		opts.MaxBlock = DefaultMaxBlock
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, cache: newMemberCache(opts.MaxDepth)}, nil
}

type filter struct {
	server.PassThrough
	opts  Options
	cache *memberCache

	mu    sync.Mutex
	index *index // nil until a connection has read it
}

func (f *filter) Name() string { return "lzip" }

// Open opens the file read-only: the filter never writes to it.
func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	req.ReadOnly = true
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// indexFor returns the file's index, reading it through h the first time. The index
// and the decompressed members are shared by every connection, as in nbdkit: the
// plugin must serve the same file to all of them, which fileSize checks as far as it
// can.
func (f *filter) indexFor(ctx context.Context, h server.LayerHandle, fileSize int64) (*index, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.index == nil {
		x, err := buildIndex(layerReader{ctx: ctx, h: h}, fileSize, f.opts.MaxBlock)
		if err != nil {
			return nil, server.Errorf(syscall.EINVAL, "%v", err)
		}
		f.opts.Logger.Debug("read the lzip index", "members", len(x.members), "compressed", fileSize, "size", x.dataSize)
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

// Capabilities: read-only; cache requests decompress members ahead of reads.
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
		m := h.index.members[i]
		data, err := h.member(ctx, i)
		if err != nil {
			return err
		}
		n := copy(p, data[off-m.dataOffset:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// Cache decompresses the members holding the range into the cache.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	for end := off + length; off < end; {
		i := h.index.find(off)
		if _, err := h.member(ctx, i); err != nil {
			return err
		}
		m := h.index.members[i]
		off = m.dataOffset + m.dataSize
	}
	return nil
}

// Extents: the decompressed data has no holes that the filter knows of.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}

// member returns member i decompressed, from the cache or the file.
func (h *handle) member(ctx context.Context, i int) ([]byte, error) {
	if data, ok := h.f.cache.lookup(i); ok {
		return data, nil
	}
	m := h.index.members[i]
	return h.f.cache.get(i, func() ([]byte, error) {
		stream := make([]byte, m.lzmaSize())
		if err := h.Next.ReadAt(ctx, stream, m.lzmaOffset(), 0); err != nil {
			return nil, fmt.Errorf("reading lzip member %d at %d: %w", i, m.offset, err)
		}
		data, err := decompress(m, stream)
		if err != nil {
			return nil, server.Errorf(syscall.EIO, "lzip member %d at %d (%d bytes): %v", i, m.offset, m.size, err)
		}
		return data, nil
	})
}

// layerReader reads a layer handle as an io.ReaderAt, for the index.
type layerReader struct {
	ctx context.Context
	h   server.LayerHandle
}

func (r layerReader) ReadAt(p []byte, off int64) (int, error) {
	if err := r.h.ReadAt(r.ctx, p, off, 0); err != nil {
		return 0, err
	}
	return len(p), nil
}
