package errorfilter

import (
	"context"
	"math/rand/v2"
	"os"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// A Rule says when requests of one kind fail.
type Rule struct {
	// Errno is the error injected; 0 means EIO.
	Errno syscall.Errno
	// Rate is the probability that a request fails, from 0 (never, the default) to 1
	// (always).
	Rate float64
	// File, when set, limits injection to the times when a file of that name exists,
	// so that a test can switch errors on and off while the server runs.
	File string
}

// Options hold a rule for each kind of request the filter can fail. Flushes are
// never failed, as in nbdkit.
type Options struct {
	Read, Write, Trim, Zero, Extents, Cache Rule
}

// New returns a layer in front of next that fails requests as opts says.
func New(next server.Layer, opts Options) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Name() string { return "error" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, opts: &f.opts}, nil
}

type handle struct {
	server.PassThroughHandle
	opts *Options
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.opts.Read.inject("pread"); err != nil {
		return err
	}
	return h.Next.ReadAt(ctx, p, off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.opts.Write.inject("pwrite"); err != nil {
		return err
	}
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.opts.Trim.inject("trim"); err != nil {
		return err
	}
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.opts.Zero.inject("zero"); err != nil {
		return err
	}
	return h.Next.Zero(ctx, off, length, flags)
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if err := h.opts.Extents.inject("extents"); err != nil {
		return err
	}
	return h.Next.Extents(ctx, off, length, flags, e)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.opts.Cache.inject("cache"); err != nil {
		return err
	}
	return h.Next.Cache(ctx, off, length, flags)
}

// inject returns the error to fail a request of kind op with, or nil to let it pass.
// Rates of 0 and 1 are exact: they never consult the random numbers.
func (r *Rule) inject(op string) error {
	if r.Rate <= 0 {
		return nil
	}
	if r.File != "" {
		if _, err := os.Stat(r.File); err != nil {
			return nil
		}
	}
	if r.Rate < 1 && rand.Float64() >= r.Rate {
		return nil
	}
	errno := r.Errno
	if errno == 0 {
		errno = syscall.EIO
	}
	return server.Errorf(errno, "injecting %s error into %s", errnoName(errno), op)
}
