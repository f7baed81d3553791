package full

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure a full disk. The zero value is a disk of zero bytes.
type Options struct {
	// Size is the disk's size in bytes, from 0 to 2⁶³-1. The command line requires
	// it.
	Size int64
}

// Plugin is a disk that has run out of space: it reads as zeroes and refuses every
// write with ENOSPC.
type Plugin struct {
	size int64
}

// errFull is what every write, trim and zero fails with. Full disks are refused
// often and on purpose, so the error is made once rather than per request.
var errFull = &server.Error{Errno: syscall.ENOSPC, Err: errors.New("the disk is full")}

// New makes a full disk as opts describe, or explains why it cannot.
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

// handle is one connection's view of the disk. It implements WriteAt, so that the
// disk is writable and writes can fail, but no Zero: the server emulates zero requests
// with WriteAt, which fails as it should, and refuses fast-zero requests at once with
// ENOTSUP, as nbdkit's full plugin does. There is no Flush: nothing is ever written.
type handle struct {
	size int64
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	clear(p)
	return nil
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return errFull
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return errFull
}

// Extents reports the whole disk as one hole that reads as zeroes: a thin disk with
// no space left has nothing allocated.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(0, h.size, server.ExtentHole|server.ExtentZero)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities adds what the interfaces do not say: every connection sees the same
// disk, and there is nothing to prefetch.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.MultiConn = true
	c.Cache = server.CacheNative
	return nil
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Writer              = (*handle)(nil)
	_ server.Trimmer             = (*handle)(nil)
	_ server.Extenter            = (*handle)(nil)
	_ server.Cacher              = (*handle)(nil)
	_ server.CapabilityOverrider = (*handle)(nil)
)
