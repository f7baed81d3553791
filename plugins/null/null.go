package null

import (
	"context"
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// Options configure a null disk. The zero value is a disk of zero bytes.
type Options struct {
	// Size is the disk's size in bytes, from 0 (the default) to 2⁶³-1.
	Size int64
}

// Plugin is a disk that reads as zeroes and forgets whatever is written to it.
type Plugin struct {
	size int64
}

// New makes a null disk as opts describe, or explains why it cannot.
func New(opts Options) (*Plugin, error) {
	if opts.Size < 0 {
		return nil, fmt.Errorf("size %d is negative", opts.Size)
	}
	return &Plugin{size: opts.Size}, nil
}

// Open returns a handle on the disk, whatever export name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return &handle{size: p.size}, nil
}

// handle is one connection's view of the disk. Every method does as little as it can:
// the plugin exists to measure what the server costs on its own.
type handle struct {
	size int64
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	clear(p)
	return nil
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return nil
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error { return nil }

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Extents reports the whole disk as one hole that reads as zeroes, which is what it
// is; the list clips it to the range asked about.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(0, h.size, server.ExtentHole|server.ExtentZero)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities offers clients everything, at no cost: zeroing is as fast as anything
// (so fast-zero requests succeed), FUA needs no flush, every connection sees the same
// (empty) disk, and there is nothing to prefetch.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.FastZero = c.Zero
	if c.FUA != server.FUANone {
		c.FUA = server.FUANative
	}
	c.MultiConn = true
	c.Cache = server.CacheNative
	return nil
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Writer              = (*handle)(nil)
	_ server.Flusher             = (*handle)(nil)
	_ server.Trimmer             = (*handle)(nil)
	_ server.Zeroer              = (*handle)(nil)
	_ server.Extenter            = (*handle)(nil)
	_ server.Cacher              = (*handle)(nil)
	_ server.CapabilityOverrider = (*handle)(nil)
)
