package ddrescue

import (
	"context"
	"fmt"
	"os"
	"sort"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=ddrescue PLUGIN ddrescue-mapfile=FILE.map
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "ddrescue",
		Version:     moduleVersion(),
		Description: "serve a ddrescue image, failing reads of unrescued blocks",
		ConfigHelp:  "ddrescue-mapfile=<FILE>  (required) The GNU ddrescue mapfile of the image.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			name, err := p.Required("ddrescue-mapfile")
			if err != nil {
				return nil, fmt.Errorf("%w: the GNU ddrescue mapfile, e.g. ddrescue-mapfile=disk.map", err)
			}
			f, err := os.Open(name)
			if err != nil {
				return nil, fmt.Errorf("ddrescue-mapfile=%s: %w", name, err)
			}
			defer f.Close()
			good, err := ParseMapfile(f)
			if err != nil {
				return nil, fmt.Errorf("ddrescue-mapfile=%s: %w", name, err)
			}
			return New(next, good), nil
		},
	}
}

// New returns a read-only layer in front of next whose reads fail with EIO unless
// every byte read lies in one of the rescued ranges, as [ParseMapfile] returns them
// (sorted, merged).
func New(next server.Layer, rescued []Range) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, rescued: rescued}
}

type filter struct {
	server.PassThrough
	rescued []Range
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	req.ReadOnly = true
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, rescued: f.rescued}, nil
}

type handle struct {
	server.PassThroughHandle
	rescued []Range
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	return h.Next.Prepare(ctx, true)
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Write, c.Trim, c.Zero, c.FastZero, c.FUA = false, false, false, false, server.FUANone
	return c, err
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if bad, ok := h.unrescued(off, int64(len(p))); ok {
		return server.Errorf(syscall.EIO, "ddrescue: the block at %d was not rescued (read of %d bytes at %d)", bad, len(p), off)
	}
	return h.Next.ReadAt(ctx, p, off, flags)
}

// unrescued returns the first offset of [off, off+length) outside the rescued ranges,
// if there is one.
func (h *handle) unrescued(off, length int64) (int64, bool) {
	i := sort.Search(len(h.rescued), func(i int) bool { return h.rescued[i].Offset+h.rescued[i].Length > off })
	if i == len(h.rescued) || h.rescued[i].Offset > off {
		return off, true
	}
	// Ranges are merged, so a read is covered only if it lies within this one.
	if end := h.rescued[i].Offset + h.rescued[i].Length; end < off+length {
		return end, true
	}
	return 0, false
}
