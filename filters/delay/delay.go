package delay

import (
	"context"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options are the delays of the filter. The zero value delays nothing.
type Options struct {
	// Read, Write, Zero, Trim, Extents, Cache and Flush delay each request of that
	// kind before it is passed on.
	Read, Write, Zero, Trim, Extents, Cache, Flush time.Duration
	// Open delays each client connection before the export is opened; Close delays
	// the end of a connection after its last request.
	Open, Close time.Duration
	// FailFastZero, when Zero is set, fails zero requests that carry the fast-zero
	// flag at once with ENOTSUP instead of delaying them (nbdkit's
	// delay-fast-zero=false), and advertises fast zero support accordingly.
	FailFastZero bool
}

// New returns a layer in front of next that delays requests as opts says.
func New(next server.Layer, opts Options) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Name() string { return "delay" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if err := sleep(ctx, f.opts.Open); err != nil {
		return nil, err
	}
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, opts: &f.opts}, nil
}

type handle struct {
	server.PassThroughHandle
	opts *Options
}

// failsFastZero reports whether fast zero requests are answered here rather than
// delayed.
func (h *handle) failsFastZero() bool { return h.opts.Zero > 0 && h.opts.FailFastZero }

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err == nil && c.Zero && h.failsFastZero() {
		c.FastZero = true // answered at once, here
	}
	return c, err
}

func (h *handle) Close(ctx context.Context) error {
	err := h.Next.Close(ctx)
	// A connection the server is tearing down (its context ended) is not held up,
	// as nbdkit does not delay clients that went away abruptly.
	sleep(ctx, h.opts.Close)
	return err
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := sleep(ctx, h.opts.Read); err != nil {
		return err
	}
	return h.Next.ReadAt(ctx, p, off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := sleep(ctx, h.opts.Write); err != nil {
		return err
	}
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if flags&server.FlagFastZero != 0 && h.failsFastZero() {
		return errFastZero
	}
	if err := sleep(ctx, h.opts.Zero); err != nil {
		return err
	}
	return h.Next.Zero(ctx, off, length, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := sleep(ctx, h.opts.Trim); err != nil {
		return err
	}
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if err := sleep(ctx, h.opts.Extents); err != nil {
		return err
	}
	return h.Next.Extents(ctx, off, length, flags, e)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := sleep(ctx, h.opts.Cache); err != nil {
		return err
	}
	return h.Next.Cache(ctx, off, length, flags)
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	if err := sleep(ctx, h.opts.Flush); err != nil {
		return err
	}
	return h.Next.Flush(ctx, flags)
}

// errFastZero answers fast zero requests when delay-fast-zero=false. Clients such as
// qemu-img send them on purpose to learn whether zeroing is cheap, so the answer is
// made once.
var errFastZero = server.Errorf(syscall.ENOTSUP, "delay filter: fast zero requests are refused while zero requests are delayed")

// sleep waits for d, or fails with ESHUTDOWN when ctx ends first (the connection or
// the server is going away), as nbdkit_nanosleep does.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return server.Errorf(syscall.ESHUTDOWN, "delay of %v interrupted: %w", d, ctx.Err())
	}
}
