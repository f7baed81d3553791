package retry

import (
	"context"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options say how failed requests are retried. The zero value is nbdkit's default:
// five retries, waiting 2 s before the first and twice as long before each next one
// (about a minute in all), reopening the plugin read-write as before.
type Options struct {
	// Retries is how many times a failed request is retried, each time on a newly
	// opened plugin handle, before its error is returned. 0 means the default, 5;
	// a negative number means none.
	Retries int
	// Delay is the wait before the first retry. 0 means the default, 2 seconds.
	Delay time.Duration
	// ConstantDelay waits Delay before every retry, instead of doubling the wait
	// each time (nbdkit's retry-exponential=no).
	ConstantDelay bool
	// ReadOnly reopens the plugin read-only from the first failure on, for the rest
	// of the connection (nbdkit's retry-readonly=yes): writes, trims and zeroes then
	// fail with EROFS. A new connection opens the plugin as usual.
	ReadOnly bool
	// Logger receives a debug message for each retry; nil discards them.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultRetries = 5
	DefaultDelay   = 2 * time.Second
)

// New returns a layer in front of next that reopens the plugin and retries a request
// that failed. Because the handle of a connection is replaced under its requests, the
// layer serves one request at a time per connection.
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

func (f *filter) Name() string { return "retry" }

func (f *filter) ThreadModel() server.ThreadModel {
	return min(server.SerializeRequests, f.Next.ThreadModel())
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f, req: req, open: true}, nil
}

// A handle replaces its Next when it reopens the plugin. The server calls the data
// methods one at a time (see ThreadModel); mu makes that safe for any caller.
type handle struct {
	server.PassThroughHandle
	f   *filter
	req server.OpenRequest

	mu       sync.Mutex
	readOnly bool // as prepared by the server
	open     bool // Next is usable: false after a reopen failed
	reopens  int
	size     int64               // of the current Next, once reopened
	caps     server.Capabilities // of the current Next, once reopened
}

// attempt is the state of one request's retries.
type attempt struct {
	retries int
	delay   time.Duration
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readOnly = readOnly
	return h.Next.Prepare(ctx, readOnly)
}

func (h *handle) Finalize(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.open {
		return nil
	}
	return h.Next.Finalize(ctx)
}

func (h *handle) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reopens > 0 {
		h.f.opts.Logger.Debug("reopens needed", "reopens", h.reopens)
	}
	if h.Next == nil {
		return nil
	}
	return h.Next.Close(ctx)
}

// retry decides, after a request failed with err, whether to try again: it waits,
// closes the plugin handle and opens a new one. It returns false, and the error to
// fail the request with, once the retries are used up or ctx ends.
func (h *handle) retry(ctx context.Context, a *attempt, op string, err error) (bool, error) {
	opts := &h.f.opts
	if a.retries == 0 {
		a.delay = opts.Delay
	}
	for {
		if a.retries >= opts.Retries {
			opts.Logger.Debug("could not recover", "op", op, "retries", opts.Retries, "err", err)
			return false, err
		}
		opts.Logger.Debug("request failed, reopening the plugin and retrying",
			"op", op, "retry", a.retries+1, "delay", a.delay, "err", err)
		if !sleep(ctx, a.delay) {
			return false, err
		}
		a.retries++
		if !opts.ConstantDelay {
			a.delay *= 2
		}
		var reopenErr error
		if reopenErr = h.reopen(ctx); reopenErr == nil {
			return true, nil
		}
		// A plugin that cannot be reopened, or lost data when closed, is as bad as
		// the request failing: try again after the next delay.
		err = server.Errorf(syscall.ESHUTDOWN, "%s: reopening the plugin: %w", op, reopenErr)
	}
}

// reopen replaces Next by a newly opened and prepared handle of the plugin.
func (h *handle) reopen(ctx context.Context) error {
	h.reopens++
	if h.open {
		h.open = false
		// A handle that fails to finalize may have lost written data, which counts
		// as a failure of its own.
		if err := h.Next.Finalize(ctx); err != nil {
			h.Next.Close(ctx)
			h.Next = nil
			return err
		}
	}
	if h.Next != nil {
		h.Next.Close(ctx)
		h.Next = nil
	}
	req := h.req
	req.ReadOnly = req.ReadOnly || h.readOnly || h.f.opts.ReadOnly
	next, err := h.f.Next.Open(ctx, req)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		next.Finalize(ctx)
		next.Close(ctx)
		return err
	}
	if err := next.Prepare(ctx, req.ReadOnly); err != nil {
		return fail(err)
	}
	if h.size, err = next.Size(ctx); err != nil {
		return fail(err)
	}
	if h.caps, err = next.Capabilities(ctx); err != nil {
		return fail(err)
	}
	if req.ReadOnly {
		h.caps.Write = false
	}
	h.Next, h.open = next, true
	return nil
}

// check returns why a request cannot be sent to the current plugin handle, or nil.
// Before the first reopen the server's own checks hold; after it, the new handle may
// be smaller or able to do less.
func (h *handle) check(off, length int64, write bool, needs func(*server.Capabilities) bool) error {
	switch {
	case !h.open:
		return server.Errorf(syscall.ESHUTDOWN, "the plugin could not be reopened")
	case h.reopens == 0:
		return nil
	case off+length > h.size:
		if write {
			return server.Errorf(syscall.ENOSPC, "the reopened plugin is smaller (%d bytes)", h.size)
		}
		return server.Errorf(syscall.EIO, "the reopened plugin is smaller (%d bytes)", h.size)
	case write && !h.caps.Write:
		return server.Errorf(syscall.EROFS, "the reopened plugin is read-only")
	case needs != nil && !needs(&h.caps):
		return server.Errorf(syscall.EIO, "the reopened plugin cannot serve the request")
	}
	return nil
}

// do sends a request, retrying as configured. write says whether it changes data;
// needs, if not nil, whether a reopened handle can serve it.
func (h *handle) do(ctx context.Context, op string, off, length int64, write bool,
	needs func(*server.Capabilities) bool, request func(server.LayerHandle) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var a attempt
	for {
		if write && h.reopens > 0 && h.f.opts.ReadOnly {
			return server.Errorf(syscall.EROFS, "%s after a retry made the plugin read-only (retry-readonly)", op)
		}
		err := h.check(off, length, write, needs)
		if err == nil {
			err = request(h.Next)
		}
		if err == nil {
			return nil
		}
		again, err := h.retry(ctx, &a, op, err)
		if !again {
			return err
		}
	}
}

func canFlush(c *server.Capabilities) bool   { return c.Flush }
func canTrim(c *server.Capabilities) bool    { return c.Trim }
func canZero(c *server.Capabilities) bool    { return c.Zero }
func canExtents(c *server.Capabilities) bool { return c.Extents }
func canCache(c *server.Capabilities) bool   { return c.Cache != server.CacheNone }

// canFUA returns whether a reopened handle can honour flags.
func canFUA(flags server.Flags) func(*server.Capabilities) bool {
	if flags&server.FlagFUA == 0 {
		return nil
	}
	return func(c *server.Capabilities) bool { return c.FUA != server.FUANone }
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.do(ctx, "pread", off, int64(len(p)), false, nil, func(next server.LayerHandle) error {
		return next.ReadAt(ctx, p, off, flags)
	})
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.do(ctx, "pwrite", off, int64(len(p)), true, canFUA(flags), func(next server.LayerHandle) error {
		return next.WriteAt(ctx, p, off, flags)
	})
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	return h.do(ctx, "flush", 0, 0, false, canFlush, func(next server.LayerHandle) error {
		return next.Flush(ctx, flags)
	})
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	needs := canTrim
	if fua := canFUA(flags); fua != nil {
		needs = func(c *server.Capabilities) bool { return c.Trim && fua(c) }
	}
	return h.do(ctx, "trim", off, length, true, needs, func(next server.LayerHandle) error {
		return next.Trim(ctx, off, length, flags)
	})
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	needs := canZero
	if flags&(server.FlagFUA|server.FlagFastZero) != 0 {
		needs = func(c *server.Capabilities) bool {
			return c.Zero && (flags&server.FlagFUA == 0 || c.FUA != server.FUANone) &&
				(flags&server.FlagFastZero == 0 || c.FastZero)
		}
	}
	return h.do(ctx, "zero", off, length, true, needs, func(next server.LayerHandle) error {
		return next.Zero(ctx, off, length, flags)
	})
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	start, end := e.Start(), e.End()
	return h.do(ctx, "extents", off, length, false, canExtents, func(next server.LayerHandle) error {
		e.Reset(start, end) // drop what a failed attempt added
		return next.Extents(ctx, off, length, flags, e)
	})
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.do(ctx, "cache", off, length, false, canCache, func(next server.LayerHandle) error {
		return next.Cache(ctx, off, length, flags)
	})
}

// sleep waits for d and reports whether it did, rather than ctx ending first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
