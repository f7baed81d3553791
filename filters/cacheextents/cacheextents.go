package cacheextents

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Filter is the cacheextents filter in front of the next layer.
//
// Each connection remembers the extents of its last block status request that went to
// the next layer. Any change to the data, on any connection, makes every connection's
// list stale: a generation counter shared by the connections says so.
type Filter struct {
	server.PassThrough
	// generation counts the changes made to the data through this filter.
	generation atomic.Uint64
}

// New returns the filter in front of next.
func New(next server.Layer) *Filter {
	return &Filter{PassThrough: server.PassThrough{Next: next}}
}

// Open opens the next layer and wraps its handle.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f}, nil
}

type handle struct {
	server.PassThroughHandle
	filter *Filter
	size   int64 // set by Prepare

	mu sync.Mutex
	// cached holds the last answer of the next layer, for [cached.Start(), cached.End())
	// as far as the answer went; valid tells whether it may be used.
	cached     server.ExtentList
	valid      bool
	generation uint64 // the filter's generation when cached was filled
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	h.size = size
	return err
}

// Extents answers from the last list when it covers off, and otherwise asks the next
// layer, keeping what it says beyond the requested range too: plugins often know more
// than they were asked, and a client walking the disk asks next about what follows.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.answerFromCache(off, e) {
		return nil
	}
	generation := h.filter.generation.Load()
	h.valid = false
	h.cached.Reset(off, h.size)
	// Ask for the whole range even when the client wants one extent: more is what
	// makes the cache worth having.
	if err := h.Next.Extents(ctx, off, length, flags&^server.FlagReqOne, &h.cached); err != nil {
		return err
	}
	h.valid, h.generation = true, generation
	// Answer from the list just filled even if a change made it stale meanwhile: a
	// request concurrent with a change may see the data before or after it.
	if !h.copyExtents(off, e) {
		h.valid = false
		return server.Errorf(syscall.EIO, "cacheextents: the next layer said nothing about offset %d", off)
	}
	return nil
}

// answerFromCache adds the cached extents from off on to e and reports whether the
// cache covered off; h.mu is held.
func (h *handle) answerFromCache(off int64, e *server.ExtentList) bool {
	if !h.valid || h.generation != h.filter.generation.Load() {
		return false
	}
	return h.copyExtents(off, e)
}

// copyExtents adds the listed extents from off on to e and reports whether the list
// covered off; h.mu is held.
func (h *handle) copyExtents(off int64, e *server.ExtentList) bool {
	extents := h.cached.Extents()
	if len(extents) == 0 || off < extents[0].Offset {
		return false
	}
	last := extents[len(extents)-1]
	if off >= last.Offset+last.Length {
		return false
	}
	for _, x := range extents {
		if x.Offset+x.Length <= off {
			continue
		}
		if err := e.Add(x.Offset, x.Length, x.Type); err != nil {
			return false
		}
	}
	return true
}

// invalidate marks every connection's cached extents stale. It runs both before and
// after a change is made: before, so that no connection answers from its list while
// the change is under way; after, so that a list filled during the change is not kept.
func (h *handle) invalidate() { h.filter.generation.Add(1) }

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.invalidate()
	defer h.invalidate()
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	h.invalidate()
	defer h.invalidate()
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	h.invalidate()
	defer h.invalidate()
	return h.Next.Zero(ctx, off, length, flags)
}
