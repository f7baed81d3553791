package pattern

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// Options configure a pattern disk. The zero value is a disk of zero bytes.
type Options struct {
	// Size is the disk's size in bytes, from 0 (the default) to 2⁶³-1. It need not
	// be a multiple of 8: the last word is cut short.
	Size int64
}

// Plugin is a read-only disk in which every 8-byte word holds its own offset,
// big-endian.
type Plugin struct {
	size int64
}

// New makes a pattern disk as opts describe, or explains why it cannot.
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

// handle is one connection's view of the disk. It has no Extents method: the server
// then reports the whole disk as data, which it is.
type handle struct {
	size int64
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	fill(p, off)
	return nil
}

// fill writes into p the pattern's bytes from off on. A read may start and end
// inside a word, so the words at either end are encoded aside and cut to fit.
func fill(p []byte, off int64) {
	var word [8]byte
	if into := off % 8; into != 0 {
		binary.BigEndian.PutUint64(word[:], uint64(off-into))
		n := copy(p, word[into:])
		p, off = p[n:], off+int64(n)
	}
	whole := len(p) &^ 7
	for i := 0; i < whole; i += 8 {
		binary.BigEndian.PutUint64(p[i:], uint64(off)+uint64(i))
	}
	if whole < len(p) {
		binary.BigEndian.PutUint64(word[:], uint64(off)+uint64(whole))
		copy(p[whole:], word[:])
	}
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities says what nbdkit's pattern plugin says: every connection sees the same
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
	_ server.Cacher              = (*handle)(nil)
	_ server.CapabilityOverrider = (*handle)(nil)
)
