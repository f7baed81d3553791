package checkwrite

import (
	"bytes"
	"context"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=checkwrite PLUGIN [PLUGIN-ARGS...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "checkwrite",
		Version:     moduleVersion(),
		Description: "check that writes match the contents of the plugin",
		ConfigHelp:  "(this filter has no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next), nil
		},
	}
}

// New returns a layer that opens next read-only and turns writes into checks: a write
// succeeds if next already holds the data (a trim or zero, if it holds zeroes), and
// fails with EIO otherwise. Nothing is ever written to next.
func New(next server.Layer) server.Layer {
	f := &filter{PassThrough: server.PassThrough{Next: next}}
	f.buffers.New = func() any { return new([compareChunk]byte) }
	return f
}

// compareChunk is the most read at once to compare with what a request writes.
const compareChunk = 256 << 10

type filter struct {
	server.PassThrough
	buffers sync.Pool
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	readOnly := req.ReadOnly
	req.ReadOnly = true
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f, readOnly: readOnly}, nil
}

type handle struct {
	server.PassThroughHandle
	f        *filter
	readOnly bool // the server's wish, not next's
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	h.readOnly = h.readOnly || readOnly
	return h.Next.Prepare(ctx, true)
}

// Capabilities offers every kind of write, all checked, none reaching next. Since
// nothing changes, every connection sees the same data: multi-conn is safe. FUA and
// flush have nothing to make stable.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return c, err
	}
	c.Flush, c.MultiConn = true, true
	if !h.readOnly {
		c.Write, c.Trim, c.Zero, c.FUA = true, true, true, server.FUANative
		c.FastZero = false // checking zeroes means reading them
	}
	return c, nil
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.check(ctx, p, off, int64(len(p)))
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.check(ctx, nil, off, length)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.check(ctx, nil, off, length)
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error { return nil }

// check returns EIO unless next holds data (nil: zeroes) at off.
func (h *handle) check(ctx context.Context, data []byte, off, length int64) error {
	buf := h.f.buffers.Get().(*[compareChunk]byte)
	defer h.f.buffers.Put(buf)
	for done := int64(0); done < length; {
		n := min(length-done, compareChunk)
		got := buf[:n]
		if err := h.Next.ReadAt(ctx, got, off+done, 0); err != nil {
			return err
		}
		if data != nil && !bytes.Equal(got, data[done:done+n]) || data == nil && !allZero(got) {
			return server.Errorf(syscall.EIO, "checkwrite: data written does not match expected (%d bytes at %d)", length, off)
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
