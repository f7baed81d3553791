package readonly

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter. The zero value makes the export read-only for good.
type Options struct {
	// File, when set, makes the export read-only only while a file of this name
	// exists; it is checked at every write, trim and zero.
	File string
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=readonly PLUGIN [readonly-file=PATH]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "readonly",
		Version:     moduleVersion(),
		Description: "make the export read-only, always or while a file exists",
		ConfigHelp:  "readonly-file=PATH  Refuse writes only while PATH exists (default: always read-only).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			if v, ok := p.Lookup("readonly-file"); ok {
				if v == "" {
					return nil, errors.New("readonly-file=: the file name is empty")
				}
				opts.File = v
			}
			return New(next, opts), nil
		},
	}
}

// New returns a layer that makes next read-only as opts say.
func New(next server.Layer, opts Options) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Name() string { return "readonly" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if f.opts.File == "" {
		req.ReadOnly = true
	}
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	if f.opts.File == "" {
		return &alwaysHandle{server.PassThroughHandle{Next: h}}, nil
	}
	return &fileHandle{PassThroughHandle: server.PassThroughHandle{Next: h}, file: f.opts.File}, nil
}

// errReadOnly is what writes to an export that is read-only for good fail with; the
// server refuses them before they get here, but filters in front might not.
var errReadOnly = server.Errorf(syscall.EPERM, "readonly: the export is read-only")

// alwaysHandle is a handle of an export that is read-only for good.
type alwaysHandle struct {
	server.PassThroughHandle
}

func (h *alwaysHandle) Prepare(ctx context.Context, readOnly bool) error {
	return h.Next.Prepare(ctx, true)
}

func (h *alwaysHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Write, c.Trim, c.Zero, c.FastZero, c.FUA = false, false, false, false, server.FUANone
	return c, err
}

func (h *alwaysHandle) WriteAt(context.Context, []byte, int64, server.Flags) error {
	return errReadOnly
}

func (h *alwaysHandle) Trim(context.Context, int64, int64, server.Flags) error {
	return errReadOnly
}

func (h *alwaysHandle) Zero(context.Context, int64, int64, server.Flags) error {
	return errReadOnly
}

// fileHandle is a handle of an export that is read-only while a file exists.
type fileHandle struct {
	server.PassThroughHandle
	file string
}

// checkWritable returns EPERM while the file exists. A file that cannot be checked
// (a directory on its path is unreadable, say) counts as existing: when in doubt, the
// disk stays frozen.
func (h *fileHandle) checkWritable() error {
	_, err := os.Stat(h.file)
	switch {
	case err == nil:
		return server.Errorf(syscall.EPERM, "readonly: %s exists, so the export is read-only", h.file)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return server.Errorf(syscall.EPERM, "readonly: treating the export as read-only: %w", err)
	}
}

func (h *fileHandle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.checkWritable(); err != nil {
		return err
	}
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *fileHandle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.checkWritable(); err != nil {
		return err
	}
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *fileHandle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.checkWritable(); err != nil {
		return err
	}
	return h.Next.Zero(ctx, off, length, flags)
}
