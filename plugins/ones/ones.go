package ones

import (
	"context"
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// DefaultByte is what every byte of the disk reads as when [Options.Byte] is nil:
// all bits set, the plugin's namesake.
const DefaultByte = 0xff

// Options configure a disk of ones. The zero value is a disk of zero bytes.
type Options struct {
	// Size is the disk's size in bytes, from 0 (the default) to 2⁶³-1.
	Size int64
	// Byte is what every byte of the disk reads as; nil means DefaultByte (0xff).
	Byte *byte
}

// Plugin is a disk whose every byte reads as the same value, which discards whatever
// is written to it.
type Plugin struct {
	size int64
	fill byte
}

// New makes a disk of ones as opts describe, or explains why it cannot.
func New(opts Options) (*Plugin, error) {
	if opts.Size < 0 {
		return nil, fmt.Errorf("size %d is negative", opts.Size)
	}
	p := &Plugin{size: opts.Size, fill: DefaultByte}
	if opts.Byte != nil {
		p.fill = *opts.Byte
	}
	return p, nil
}

// Open returns a handle on the disk, whatever export name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return &handle{size: p.size, fill: p.fill}, nil
}

// handle is one connection's view of the disk. Like the null plugin's, every method
// but ReadAt does nothing at all.
type handle struct {
	size int64
	fill byte
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	fill(p, h.fill)
	return nil
}

// fill sets every byte of p to b, doubling what is already set with copy, which
// moves whole words at a time where a loop over bytes would not.
func fill(p []byte, b byte) {
	if len(p) == 0 {
		return
	}
	p[0] = b
	for done := 1; done < len(p); done *= 2 {
		copy(p[done:], p[:done])
	}
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

// Extents reports the whole disk as data, even with byte=0, where it reads as zeroes:
// the byte changes the contents, not the shape (the null plugin is the disk of holes).
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(0, h.size, server.ExtentData)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities offers what the null plugin offers: requests that cost nothing, and
// the same disk on every connection.
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
