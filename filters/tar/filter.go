package tar

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Options say which member of the archive to serve.
type Options struct {
	// Entry is the member's name exactly as the archive stores it (as `tar tf` lists
	// it). Required.
	Entry string
	// Limit, when positive, is how many bytes of the archive to search for Entry: a
	// member whose header starts past it is not found. Default 0: no limit.
	Limit int64
	// Logger receives the filter's messages. Default: none are logged.
	Logger *slog.Logger
}

// New returns a layer that serves the data of member opts.Entry of the tar archive next
// serves. The archive's headers are read when a client opens the export.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.Entry == "" {
		return nil, errors.New("tar-entry must not be empty: give the member's name as `tar tf` lists it")
	}
	if opts.Limit < 0 {
		opts.Limit = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
}

type filter struct {
	server.PassThrough
	opts Options
	// extentLists recycles the lists that extents of the next layer are collected in.
	extentLists sync.Pool
}

func (f *filter) Name() string { return "tar" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// handle serves the bytes [offset, offset+size) of the archive, the member's data. The
// server keeps requests within size, so that nothing reaches the headers or the
// padding.
type handle struct {
	server.PassThroughHandle
	f            *filter
	offset, size int64
}

// Prepare finds the member, after the layers behind have been prepared. Every
// connection looks again: the archive may differ between exports or change between
// connections.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	archiveSize, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	s := scanner{r: layerReader{ctx: ctx, h: h.Next}, size: archiveSize, limit: h.f.opts.Limit}
	m, err := s.findMember(h.f.opts.Entry)
	if err != nil {
		return err
	}
	h.offset, h.size = m.offset, m.size
	h.f.opts.Logger.Debug("found the tar member", "entry", h.f.opts.Entry, "offset", m.offset, "size", m.size)
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.ReadAt(ctx, p, h.offset+off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.WriteAt(ctx, p, h.offset+off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Trim(ctx, h.offset+off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Zero(ctx, h.offset+off, length, flags)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Cache(ctx, h.offset+off, length, flags)
}

// Extents asks the next layer about the member's bytes in the archive and moves its
// answer back to the member's offsets.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	inner, _ := h.f.extentLists.Get().(*server.ExtentList)
	if inner == nil {
		inner = new(server.ExtentList)
	}
	defer h.f.extentLists.Put(inner)
	inner.Reset(h.offset+off, h.offset+off+length)
	if err := h.Next.Extents(ctx, h.offset+off, length, flags, inner); err != nil {
		return err
	}
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset-h.offset, x.Length, x.Type); err != nil {
			return err
		}
	}
	return nil
}

// layerReader reads a layer handle as an io.ReaderAt, for the header scanner.
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
