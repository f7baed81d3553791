package offset

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options say which part of the next layer to serve.
type Options struct {
	// Offset is where the served range starts, in bytes. Default 0.
	Offset int64
	// Range is the length served, or -1 (or any negative value) for everything from
	// Offset to the end.
	Range int64
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=offset PLUGIN [offset=OFFSET] [range=LENGTH]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "offset",
		Version:     moduleVersion(),
		Description: "serve a byte range of the plugin",
		ConfigHelp: "offset=<OFFSET>  Where the served range starts (default 0).\n" +
			"range=<LENGTH>   Length served (default: up to the end of the plugin).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Range: -1}
			var err error
			if opts.Offset, err = p.Size("offset", 0); err != nil {
				return nil, err
			}
			if opts.Range, err = p.Size("range", -1); err != nil {
				return nil, err
			}
			return New(next, opts)
		},
	}
}

// New returns a layer that serves the bytes [Offset, Offset+Range) of next as a whole
// export. Whether they exist is checked when a client opens the export, since next's
// size may depend on the connection.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.Offset < 0 {
		return nil, fmt.Errorf("offset=%d: the offset must not be negative", opts.Offset)
	}
	if opts.Range < 0 {
		opts.Range = -1
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
}

type filter struct {
	server.PassThrough
	opts Options
	// extentLists recycles the lists that extents of next are collected in.
	extentLists sync.Pool
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

type handle struct {
	server.PassThroughHandle
	f    *filter
	size int64 // set by Prepare
}

// Prepare checks that the range lies within next, with nbdkit's messages.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	real, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	off, length := h.f.opts.Offset, h.f.opts.Range
	switch {
	case length >= 0 && (off > real || length > real-off):
		return server.Errorf(syscall.EINVAL,
			"offset+range (%d+%d) is larger than the real size (%d) of the underlying file or device", off, length, real)
	case length < 0 && off > real:
		return server.Errorf(syscall.EINVAL,
			"offset (%d) is larger than the real size (%d) of the underlying file or device", off, real)
	case length >= 0:
		h.size = length
	default:
		h.size = real - off
	}
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.ReadAt(ctx, p, off+h.f.opts.Offset, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.WriteAt(ctx, p, off+h.f.opts.Offset, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Trim(ctx, off+h.f.opts.Offset, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Zero(ctx, off+h.f.opts.Offset, length, flags)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Cache(ctx, off+h.f.opts.Offset, length, flags)
}

// Extents asks next about the shifted range in a list of its own, whose extents may run
// past the end of the served range, and shifts them back into e, which clips them.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	shift := h.f.opts.Offset
	inner, _ := h.f.extentLists.Get().(*server.ExtentList)
	if inner == nil {
		inner = new(server.ExtentList)
	}
	defer h.f.extentLists.Put(inner)
	inner.Reset(off+shift, off+shift+length)
	if err := h.Next.Extents(ctx, off+shift, length, flags, inner); err != nil {
		return err
	}
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset-shift, x.Length, x.Type); err != nil {
			return err
		}
	}
	return nil
}
