package apitest

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// FilterSpec is the spec of a filter that hides the first skip= bytes of the export
// and can turn writing off (readonly=true). It embeds server.PassThrough and
// server.PassThroughHandle, as filters must, and overrides only what it changes.
var FilterSpec = server.FilterSpec{
	Name:        "apiskip",
	Version:     "1.0.0",
	Description: "a filter using the filter API",
	ConfigHelp:  "skip=SIZE  bytes to hide at the start\nreadonly=BOOL  refuse writes",
	New:         newFilter,
}

// Filter is the filter FilterSpec makes.
type Filter struct {
	server.PassThrough
	skip     int64
	readOnly bool
}

var _ server.Layer = (*Filter)(nil)

func newFilter(p *server.Params, next server.Layer) (server.Layer, error) {
	skip, err := p.Size("skip", 0)
	if err != nil {
		return nil, err
	}
	readOnly, err := p.Bool("readonly", false)
	if err != nil {
		return nil, err
	}
	return &Filter{PassThrough: server.PassThrough{Next: next}, skip: skip, readOnly: readOnly}, nil
}

// ThreadModel is at most SerializeAllRequests, to show that filters may restrict it.
func (f *Filter) ThreadModel() server.ThreadModel {
	return min(f.Next.ThreadModel(), server.SerializeAllRequests)
}

func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	req.ReadOnly = req.ReadOnly || f.readOnly
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &FilterHandle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f}, nil
}

// FilterHandle is a connection's handle through Filter.
type FilterHandle struct {
	server.PassThroughHandle
	filter *Filter
}

var _ server.LayerHandle = (*FilterHandle)(nil)

func (h *FilterHandle) Prepare(ctx context.Context, readOnly bool) error {
	return h.Next.Prepare(ctx, readOnly || h.filter.readOnly)
}

func (h *FilterHandle) Size(ctx context.Context) (int64, error) {
	size, err := h.Next.Size(ctx)
	return max(size-h.filter.skip, 0), err
}

func (h *FilterHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if h.filter.readOnly {
		c.Write, c.Trim, c.Zero, c.FastZero, c.FUA = false, false, false, false, server.FUANone
	}
	return c, err
}

func (h *FilterHandle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.ReadAt(ctx, p, off+h.filter.skip, flags)
}

func (h *FilterHandle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.WriteAt(ctx, p, off+h.filter.skip, flags)
}

func (h *FilterHandle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Trim(ctx, off+h.filter.skip, length, flags)
}

func (h *FilterHandle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Zero(ctx, off+h.filter.skip, length, flags)
}

func (h *FilterHandle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Cache(ctx, off+h.filter.skip, length, flags)
}

func (h *FilterHandle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	skip := h.filter.skip
	inner := server.NewExtentList(off+skip, off+skip+length)
	if err := h.Next.Extents(ctx, off+skip, length, flags, inner); err != nil {
		return err
	}
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset-skip, x.Length, x.Type); err != nil {
			return err
		}
	}
	return nil
}
