package openonce

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=openonce PLUGIN
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "openonce",
		Version:     moduleVersion(),
		Description: "open the plugin once and share the handle between all connections",
		ConfigHelp:  "(this filter has no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next, p.Logger), nil
		},
	}
}

// New returns a layer that opens next once and shares the handle between all
// connections until Cleanup. log may be nil.
func New(next server.Layer, log *slog.Logger) server.Layer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, log: log}
}

type filter struct {
	server.PassThrough
	log *slog.Logger

	mu     sync.Mutex
	shared server.LayerHandle // nil until a connection opened it
	name   string             // the export it was opened for
}

func (f *filter) Name() string { return "openonce" }

// ThreadModel is the next layer's, except that one request at a time per connection
// becomes one at a time in all: the connections share a handle.
func (f *filter) ThreadModel() server.ThreadModel {
	m := f.Next.ThreadModel()
	if m == server.SerializeRequests {
		m = server.SerializeAllRequests
	}
	return m
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shared == nil {
		if err := f.openShared(ctx, req); err != nil {
			return nil, err
		}
	} else if req.ExportName != f.name {
		return nil, server.Errorf(syscall.EINVAL, "openonce: export %q is open, so %q cannot be", f.name, req.ExportName)
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: f.shared}, readOnly: req.ReadOnly}, nil
}

// openShared opens and prepares the handle every connection will share; mu is held.
// The handle outlives the connection that opens it, so it gets the connection's
// context without its cancellation.
func (f *filter) openShared(ctx context.Context, req server.OpenRequest) error {
	ctx = context.WithoutCancel(ctx)
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return err
	}
	if err := h.Prepare(ctx, req.ReadOnly); err != nil {
		return errors.Join(err, h.Close(ctx))
	}
	f.shared, f.name = h, req.ExportName
	f.log.Debug("opened the shared handle", "export", req.ExportName, "read_only", req.ReadOnly)
	return nil
}

// Cleanup finalizes and closes the shared handle, then cleans up the layers behind.
func (f *filter) Cleanup(ctx context.Context) {
	f.mu.Lock()
	h := f.shared
	f.shared = nil
	f.mu.Unlock()
	if h != nil {
		if err := errors.Join(h.Finalize(ctx), h.Close(ctx)); err != nil {
			f.log.Warn("closing the shared handle", "err", err)
		}
	}
	f.Next.Cleanup(ctx)
}

// handle is one connection's view of the shared handle: everything passes through
// but the handle's life cycle, which belongs to the filter.
type handle struct {
	server.PassThroughHandle
	readOnly bool
}

func (h *handle) Prepare(context.Context, bool) error { return nil }
func (h *handle) Finalize(context.Context) error      { return nil }
func (h *handle) Close(context.Context) error         { return nil }

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if h.readOnly {
		c.Write, c.Trim, c.Zero, c.FastZero, c.FUA = false, false, false, false, server.FUANone
	}
	return c, err
}
