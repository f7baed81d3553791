package random

import (
	"context"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure a random disk. The zero value is a disk of zero bytes.
type Options struct {
	// Size is the disk's size in bytes, from 0 (the default) to 2⁶³-1.
	Size int64
	// Seed selects the contents: the same seed gives the same bytes, in every run
	// and in every version of this module. The command line picks it from the clock
	// when seed= is not given; here 0 is a seed like any other.
	Seed uint32
}

// Plugin is a disk of reproducible random bytes, which accepts a write only if it
// writes what is already there.
type Plugin struct {
	size int64
	gen  generator
}

// New makes a random disk as opts describe, or explains why it cannot.
func New(opts Options) (*Plugin, error) {
	if opts.Size < 0 {
		return nil, fmt.Errorf("size %d is negative", opts.Size)
	}
	return &Plugin{size: opts.Size, gen: newGenerator(opts.Seed)}, nil
}

// Open returns a handle on the disk, whatever export name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return &handle{size: p.size, gen: p.gen}, nil
}

// handle is one connection's view of the disk. It has no Extents method, so the
// server reports the whole disk as data, and no Flush, since nothing is ever stored.
type handle struct {
	size int64
	gen  generator
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	h.gen.fill(p, off)
	return nil
}

// WriteAt checks that p is what the disk holds at off, and fails with EIO if not.
// Copying the disk onto itself (nbdcopy "$uri" "$uri") thus tests that a copying
// program puts every byte where it belongs.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.check(p, off, int64(len(p)), "data written")
}

// Trim and Zero succeed only on a range that already reads as zeroes, which random
// bytes practically never do: the disk cannot be made sparse.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.check(nil, off, length, "trim: the range, which must read as zeroes,")
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.check(nil, off, length, "zero: the range, which must read as zeroes already,")
}

// check returns nil if the length bytes at off are want (zeroes when want is nil),
// else an EIO error naming what differs and where.
func (h *handle) check(want []byte, off, length int64, what string) error {
	if at := h.gen.mismatch(want, off, length); at >= 0 {
		return server.Errorf(syscall.EIO, "%s does not match the random disk at offset %d", what, at)
	}
	return nil
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities says what nbdkit's random plugin says: every connection sees the same
// disk, and it is computed, so there is nothing to prefetch.
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
	_ server.Zeroer              = (*handle)(nil)
	_ server.Cacher              = (*handle)(nil)
	_ server.CapabilityOverrider = (*handle)(nil)
)
