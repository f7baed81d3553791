package protect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=protect PLUGIN protect=START-END [protect=~START-END...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "protect",
		Version:     moduleVersion(),
		Description: "write-protect parts of a plugin",
		ConfigHelp: "protect=<START>-<END>   Protect bytes START to END inclusive (repeatable).\n" +
			"protect=~<START>-<END>  Protect everything but START to END.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var ranges []Range
			for _, value := range p.All("protect") {
				r, err := ParseRange(value)
				if err != nil {
					return nil, fmt.Errorf("protect=%s: %w", value, err)
				}
				ranges = append(ranges, r...)
			}
			return New(next, ranges), nil
		},
	}
}

// New returns a layer in front of next that refuses, with EPERM, writes, trims and
// zeroes that would change the bytes of the protected ranges. Writes of the bytes
// already there pass.
func New(next server.Layer, ranges []Range) server.Layer {
	f := &filter{PassThrough: server.PassThrough{Next: next}, ranges: merge(ranges)}
	f.buffers.New = func() any { return new([compareChunk]byte) }
	return f
}

// compareChunk is the most read at once to compare with what a request would write.
const compareChunk = 256 << 10

type filter struct {
	server.PassThrough
	ranges  []Range // sorted, disjoint
	buffers sync.Pool
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil || len(f.ranges) == 0 {
		return h, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

type handle struct {
	server.PassThroughHandle
	f *filter
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.check(ctx, p, off, int64(len(p))); err != nil {
		return err
	}
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.check(ctx, nil, off, length); err != nil {
		return err
	}
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.check(ctx, nil, off, length); err != nil {
		return err
	}
	return h.Next.Zero(ctx, off, length, flags)
}

// errChanged is what differs reports for a change.
var errChanged = errors.New("protected data would change")

// check returns EPERM if writing data (nil: zeroes) at off would change a protected
// byte.
func (h *handle) check(ctx context.Context, data []byte, off, length int64) error {
	end := off + length
	for _, r := range h.f.ranges {
		if r.First >= end {
			break
		}
		last := r.Last
		if last == math.MaxInt64 {
			last = math.MaxInt64 - 1 // so that last+1 does not overflow
		}
		start, stop := max(off, r.First), min(end, last+1)
		if start >= stop {
			continue
		}
		var expect []byte
		if data != nil {
			expect = data[start-off : stop-off]
		}
		if err := h.differs(ctx, expect, start, stop-start); err != nil {
			if errors.Is(err, errChanged) {
				return server.Errorf(syscall.EPERM, "protect filter prevented write to protected range %s", r)
			}
			return err
		}
	}
	return nil
}

// differs returns errChanged if the bytes at off are not expect (nil: zeroes), and
// the error of reading them if that fails.
func (h *handle) differs(ctx context.Context, expect []byte, off, length int64) error {
	buf := h.f.buffers.Get().(*[compareChunk]byte)
	defer h.f.buffers.Put(buf)
	for done := int64(0); done < length; {
		n := min(length-done, compareChunk)
		got := buf[:n]
		if err := h.Next.ReadAt(ctx, got, off+done, 0); err != nil {
			return err
		}
		if expect != nil && !bytes.Equal(got, expect[done:done+n]) || expect == nil && !allZero(got) {
			return errChanged
		}
		done += n
	}
	return nil
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// String writes r as the parameter would, with an open end for the end of the plugin.
func (r Range) String() string {
	if r.Last == math.MaxInt64 {
		return fmt.Sprintf("%d-", r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}
