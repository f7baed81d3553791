package scan

import (
	"context"
	"log/slog"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Filter is the scan filter in front of the next layer. Every connection to the
// default export runs a scanner that prefetches the disk from a position shared by all
// of them, so that several connections scan the disk once between them, and the
// position survives the connections when scan-clock is on.
type Filter struct {
	server.PassThrough
	opts Options
	log  *slog.Logger

	mu sync.Mutex // guards the fields below
	// next is the offset the scan prefetches next; finished is set once a scan that
	// does not go on forever reached the end.
	next     int64
	finished bool
	// scanners is the number of connections scanning.
	scanners int
}

// New returns the filter in front of next. log may be nil.
func New(next server.Layer, opts Options, log *slog.Logger) (*Filter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Filter{PassThrough: server.PassThrough{Next: next}, opts: opts, log: log}, nil
}

// Open opens the next layer and wraps its handle; only connections to the default
// export scan.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	h := &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f}
	def, err := f.Next.DefaultExport(ctx, req.ReadOnly)
	if err != nil {
		next.Close(ctx)
		return nil, err
	}
	h.scans = req.ExportName == def
	return h, nil
}

// claim returns the next range to prefetch of a disk of size bytes and moves the
// position past it, or false when the scan is over.
func (f *Filter) claim(size int64) (off, length int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next >= size {
		if !f.opts.Forever || size == 0 {
			f.finished = true
			return 0, 0, false
		}
		f.next = 0
	}
	off = f.next
	length = min(f.opts.Size, size-off)
	f.next += length
	return off, length, true
}

// skipTo moves the scan past end, rounded up to a whole prefetch request, if it is
// behind: prefetching what the client has read already is wasted.
func (f *Filter) skipTo(end int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end > f.next && !f.finished {
		f.next = (end + f.opts.Size - 1) / f.opts.Size * f.opts.Size
	}
}

// starting registers a scanner and reports whether it has anything to do.
func (f *Filter) starting() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.scanners == 0 && !f.opts.Clock {
		// Nobody was connected: start the clock again from zero.
		f.next, f.finished = 0, false
	}
	f.scanners++
	return !f.finished
}

// stopped unregisters a scanner.
func (f *Filter) stopped() {
	f.mu.Lock()
	f.scanners--
	f.mu.Unlock()
}
