package retryrequest

import (
	"context"
	"log/slog"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options say how failed requests are retried. The zero value retries each failed
// request twice, two seconds apart, and retries failed opens likewise.
type Options struct {
	// Retries is how many times a failed request is sent again before its error is
	// returned. 0 means the default, 2; a negative number means none.
	Retries int
	// Delay is the wait before each retry. 0 means the default, 2 seconds.
	Delay time.Duration
	// NoRetryOpen passes failures to open the plugin straight on, instead of
	// retrying them like requests (nbdkit's retry-request-open=false).
	NoRetryOpen bool
	// Logger receives a debug message for each retry; nil discards them.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultRetries = 2
	DefaultDelay   = 2 * time.Second
)

// New returns a layer in front of next that sends a failed request again, to the same
// plugin handle, up to opts.Retries times.
func New(next server.Layer, opts Options) server.Layer {
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	}
	opts.Retries = max(opts.Retries, 0)
	if opts.Delay == 0 {
		opts.Delay = DefaultDelay
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Name() string { return "retry-request" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	for i := 0; err != nil && !f.opts.NoRetryOpen && i < f.opts.Retries; i++ {
		if !f.wait(ctx, i, "open", err) {
			break
		}
		h, err = f.Next.Open(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// wait logs why retry number i (from 0) is about to happen and waits the delay before
// it. It reports false if ctx ended first: the connection or the server is going
// away, and the request's own error is the one to return.
func (f *filter) wait(ctx context.Context, i int, op string, err error) bool {
	f.opts.Logger.Debug("request failed, retrying", "op", op, "retry", i+1, "delay", f.opts.Delay, "err", err)
	t := time.NewTimer(f.opts.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type handle struct {
	server.PassThroughHandle
	f *filter
}

// do calls request, then again after each failure, up to the configured number of
// retries, and returns its last error.
func (h *handle) do(ctx context.Context, op string, request func() error) error {
	err := request()
	for i := 0; err != nil && i < h.f.opts.Retries; i++ {
		if !h.f.wait(ctx, i, op, err) {
			break
		}
		err = request()
	}
	return err
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.do(ctx, "pread", func() error { return h.Next.ReadAt(ctx, p, off, flags) })
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.do(ctx, "pwrite", func() error { return h.Next.WriteAt(ctx, p, off, flags) })
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	return h.do(ctx, "flush", func() error { return h.Next.Flush(ctx, flags) })
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.do(ctx, "trim", func() error { return h.Next.Trim(ctx, off, length, flags) })
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.do(ctx, "zero", func() error { return h.Next.Zero(ctx, off, length, flags) })
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	start, end := e.Start(), e.End()
	return h.do(ctx, "extents", func() error {
		// Whatever a failed attempt added is not to be trusted, and would be out of
		// order for the next attempt.
		e.Reset(start, end)
		return h.Next.Extents(ctx, off, length, flags, e)
	})
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.do(ctx, "cache", func() error { return h.Next.Cache(ctx, off, length, flags) })
}
