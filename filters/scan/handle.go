package scan

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// handle is one connection; if scans is set it runs a scanner from Prepare to
// Finalize.
type handle struct {
	server.PassThroughHandle
	filter *Filter
	scans  bool

	// stop ends the scanner and done is closed once it has; nil when none runs.
	stop context.CancelFunc
	done chan struct{}
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	if !h.scans {
		return nil
	}
	f := h.filter
	if tm := f.Next.ThreadModel(); tm != server.Parallel {
		f.log.Warn("scan: the plugin does not serve requests in parallel, so the filter cannot prefetch alongside the client; not scanning",
			"thread_model", tm)
		return nil
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	caps, err := h.Next.Capabilities(ctx)
	if err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	if !f.starting() {
		f.stopped()
		return nil
	}
	// The scanner's requests belong to the connection (its ConnInfo stays in the
	// context) but end with it, not with the request that prepared it.
	scanCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.stop, h.done = stop, make(chan struct{})
	go func() {
		defer close(h.done)
		defer f.stopped()
		h.scan(scanCtx, size, caps.Cache != server.CacheNone, bs.Maximum)
	}()
	return nil
}

// scan prefetches the disk, with cache requests when the next layer takes them and
// otherwise by reading into a buffer and dropping the data, until the scan is over,
// ctx ends or a request fails.
func (h *handle) scan(ctx context.Context, size int64, canCache bool, maxBlock uint32) {
	f := h.filter
	var buf []byte
	chunk := f.opts.Size
	if maxBlock != 0 {
		chunk = min(chunk, int64(maxBlock))
	}
	if !canCache {
		buf = make([]byte, chunk)
	}
	for ctx.Err() == nil {
		off, length, ok := f.claim(size)
		if !ok {
			f.log.Debug("scan: the whole disk was prefetched")
			return
		}
		for length > 0 && ctx.Err() == nil {
			n := min(length, chunk)
			var err error
			if canCache {
				err = h.Next.Cache(ctx, off, n, 0)
			} else {
				err = h.Next.ReadAt(ctx, buf[:n], off, 0)
			}
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("scan: prefetch failed; scanning stops for this connection", "offset", off, "err", err)
				}
				return
			}
			off, length = off+n, length-n
		}
	}
}

// ReadAt moves the scan past the read when scan-ahead is on.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if h.scans && h.filter.opts.Ahead {
		h.filter.skipTo(off + int64(len(p)))
	}
	return h.Next.ReadAt(ctx, p, off, flags)
}

// Finalize stops the scanner before the next layer is finalized and closed.
func (h *handle) Finalize(ctx context.Context) error {
	h.stopScanner()
	return h.Next.Finalize(ctx)
}

// Close stops the scanner too, for connections that end without Finalize.
func (h *handle) Close(ctx context.Context) error {
	h.stopScanner()
	return h.Next.Close(ctx)
}

// stopScanner ends the scanner, if any, and waits for it.
func (h *handle) stopScanner() {
	if h.stop == nil {
		return
	}
	h.stop()
	<-h.done
	h.stop = nil
}
