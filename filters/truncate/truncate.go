package truncate

import (
	"context"
	"fmt"
	"math"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options say how to change the size of the next layer. They apply in order: Truncate,
// then RoundUp, then RoundDown.
type Options struct {
	// Truncate is the new size, smaller or larger than next's, or -1 (any negative
	// value) to keep next's size.
	Truncate int64
	// RoundUp, when not 0, rounds the size up to a multiple of it, a power of 2.
	RoundUp int64
	// RoundDown, when not 0, rounds the size down to a multiple of it, a power of 2.
	RoundDown int64
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=truncate PLUGIN [truncate=SIZE] [round-up=N] [round-down=N]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "truncate",
		Version:     moduleVersion(),
		Description: "change the size of plugins",
		ConfigHelp: "truncate=<SIZE>   The size to serve, smaller or larger than the plugin's.\n" +
			"round-up=<N>      Round the size up to a multiple of N (a power of 2).\n" +
			"round-down=<N>    Round the size down to a multiple of N (a power of 2).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Truncate: -1}
			var err error
			if opts.Truncate, err = p.Size("truncate", -1); err != nil {
				return nil, err
			}
			if opts.RoundUp, err = p.Size("round-up", 0); err != nil {
				return nil, err
			}
			if opts.RoundDown, err = p.Size("round-down", 0); err != nil {
				return nil, err
			}
			return New(next, opts)
		},
	}
}

// New returns a layer that serves next with its size changed as opts say. Bytes past
// the end of next read as zeroes and may only be written with zeroes.
func New(next server.Layer, opts Options) (server.Layer, error) {
	for _, r := range []struct {
		name string
		n    int64
	}{{"round-up", opts.RoundUp}, {"round-down", opts.RoundDown}} {
		if r.n < 0 || r.n&(r.n-1) != 0 {
			return nil, fmt.Errorf("%s=%d: the %s parameter must be a power of 2", r.name, r.n, r.name)
		}
	}
	if opts.Truncate < 0 {
		opts.Truncate = -1
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, opts: f.opts}, nil
}

type handle struct {
	server.PassThroughHandle
	opts Options
	// Set by Prepare: next's size and the size served.
	real, size int64
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	real, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	size := real
	if h.opts.Truncate >= 0 {
		size = h.opts.Truncate
	}
	if r := h.opts.RoundUp; r > 0 {
		if size > math.MaxInt64-(r-1) {
			return server.Errorf(syscall.EIO, "round-up=%d: the size %d would overflow", r, size)
		}
		size = (size + r - 1) &^ (r - 1)
	}
	if r := h.opts.RoundDown; r > 0 {
		size &^= r - 1
	}
	h.real, h.size = real, size
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

// inside returns how much of [off, off+length) lies within next.
func (h *handle) inside(off, length int64) int64 {
	return max(0, min(length, h.real-off))
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	n := h.inside(off, int64(len(p)))
	if n > 0 {
		if err := h.Next.ReadAt(ctx, p[:n], off, flags); err != nil {
			return err
		}
	}
	clear(p[n:])
	return nil
}

// WriteAt writes what lies within next; past its end, only zeroes may be written, since
// that is what those bytes will read as.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	n := h.inside(off, int64(len(p)))
	for _, b := range p[n:] {
		if b != 0 {
			return server.Errorf(syscall.ENOSPC, "truncate: write beyond end of underlying device")
		}
	}
	if n == 0 {
		return nil
	}
	return h.Next.WriteAt(ctx, p[:n], off, flags)
}

// Trim and Zero act on what lies within next; past its end everything reads as zeroes
// already.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if n := h.inside(off, length); n > 0 {
		return h.Next.Trim(ctx, off, n, flags)
	}
	return nil
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if n := h.inside(off, length); n > 0 {
		return h.Next.Zero(ctx, off, n, flags)
	}
	return nil
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if n := h.inside(off, length); n > 0 {
		return h.Next.Cache(ctx, off, n, flags)
	}
	return nil
}

// Extents reports next's extents within its size and one hole of zeroes past it.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	n := h.inside(off, length)
	if n > 0 {
		if err := h.Next.Extents(ctx, off, n, flags, e); err != nil {
			return err
		}
		exts := e.Extents()
		if last := exts[len(exts)-1]; n == length || last.Offset+last.Length < h.real {
			return nil // everything asked for, or next answered less than its part
		}
	}
	start := max(off, h.real)
	return e.Add(start, off+length-start, server.ExtentHole|server.ExtentZero)
}
