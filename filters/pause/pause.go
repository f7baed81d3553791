package pause

import (
	"context"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter.
type Options struct {
	// Control is the path of the Unix socket the filter listens on for commands
	// ("p" to pause, "r" to resume). Empty means no socket: only the methods of
	// [Filter] pause and resume it.
	Control string
}

// A Filter is a layer that can hold new requests back (pause) and let them go on
// (resume). Requests already running when it pauses finish first.
type Filter struct {
	server.PassThrough
	opts Options
	gate gate
	ctl  *controlSocket // nil without Options.Control, or before GetReady
}

// New returns a pause filter in front of next. It listens on opts.Control from
// GetReady until Cleanup.
func New(next server.Layer, opts Options) *Filter {
	return &Filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

func (f *Filter) Name() string { return "pause" }

// Pause stops new requests from reaching the layers behind the filter: they wait
// until Resume. It returns once every request that was running has finished, or when
// ctx ends (the filter stays paused then). Pausing a paused filter is allowed.
func (f *Filter) Pause(ctx context.Context) error { return f.gate.pause(ctx) }

// Resume lets the waiting requests and any new ones through.
func (f *Filter) Resume() { f.gate.resume() }

func (f *Filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	if f.opts.Control == "" {
		return nil
	}
	ctl, err := listenControl(f.opts.Control, f)
	if err != nil {
		return err
	}
	f.ctl = ctl
	return nil
}

func (f *Filter) Cleanup(ctx context.Context) {
	if f.ctl != nil {
		f.ctl.close()
	}
	f.Next.Cleanup(ctx)
}

func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, gate: &f.gate}, nil
}

type handle struct {
	server.PassThroughHandle
	gate *gate
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.ReadAt(ctx, p, off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.Flush(ctx, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.Zero(ctx, off, length, flags)
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.Extents(ctx, off, length, flags, e)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.gate.enter(ctx); err != nil {
		return err
	}
	defer h.gate.leave()
	return h.Next.Cache(ctx, off, length, flags)
}

// A gate counts the requests running through it and, while paused, holds new ones
// back. Its zero value is open.
type gate struct {
	mu      sync.Mutex
	running int
	resumed chan struct{} // while paused: closed by resume
	drained chan struct{} // while a pause waits: closed when running drops to 0
	paused  bool
}

// enter waits until the gate is open and counts the request in. It fails with
// ESHUTDOWN if ctx ends first (the connection or the server is going away).
func (g *gate) enter(ctx context.Context) error {
	for {
		g.mu.Lock()
		if !g.paused {
			g.running++
			g.mu.Unlock()
			return nil
		}
		resumed := g.resumed
		g.mu.Unlock()
		select {
		case <-resumed:
		case <-ctx.Done():
			return server.Errorf(syscall.ESHUTDOWN, "request paused by the pause filter: %w", ctx.Err())
		}
	}
}

// leave counts a request out.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	if g.running == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
}

func (g *gate) pause(ctx context.Context) error {
	g.mu.Lock()
	if !g.paused {
		g.paused = true
		g.resumed = make(chan struct{})
	}
	if g.running == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.drained == nil {
		g.drained = make(chan struct{})
	}
	drained := g.drained
	g.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resumed)
	}
}
