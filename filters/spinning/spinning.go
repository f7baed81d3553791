package spinning

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter.
type Options struct {
	// Heads is how many zones, each with its own head, the export is divided into.
	// Default 1.
	Heads int
	// MinSeekTime is the shortest seek, to a neighbouring byte, and MaxSeekTime the
	// longest, across a whole zone. Zero means no delay: the command line's
	// defaults are DefaultMinSeekTime and DefaultMaxSeekTime.
	MinSeekTime, MaxSeekTime time.Duration
	// Sleep waits for a seek. Default: a timer, cut short when ctx is done. Tests
	// replace it with a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

// The defaults of the command line: a desktop disk's track-to-track and full-stroke
// seeks, roughly.
const (
	DefaultMinSeekTime = time.Millisecond
	DefaultMaxSeekTime = 20 * time.Millisecond
)

// MaxHeads is the most heads a disk may have.
const MaxHeads = 1 << 16

// withDefaults fills unset fields and checks the others.
func (o Options) withDefaults() (Options, error) {
	if o.Heads == 0 {
		o.Heads = 1
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	switch {
	case o.Heads < 1 || o.Heads > MaxHeads:
		return o, fmt.Errorf("heads=%d: a disk has from 1 to %d heads", o.Heads, MaxHeads)
	case o.MinSeekTime < 0 || o.MaxSeekTime < 0:
		return o, errors.New("seek times cannot be negative")
	case o.MinSeekTime > o.MaxSeekTime:
		return o, fmt.Errorf("min-seek-time (%v) is longer than max-seek-time (%v)", o.MinSeekTime, o.MaxSeekTime)
	}
	return o, nil
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=spinning PLUGIN [heads=N] [min-seek-time=SECS] [max-seek-time=SECS]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "spinning",
		Version:     moduleVersion(),
		Description: "add seek delays, as a spinning hard disk has",
		ConfigHelp: "heads=N  How many heads, each serving an equal zone of the disk (default 1).\n" +
			"min-seek-time=SECS  The shortest seek (default 0.001; units such as 2ms work too).\n" +
			"max-seek-time=SECS  The seek across a whole zone (default 0.02).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			heads, err := p.Uint32("heads", 1)
			if err != nil {
				return nil, err
			}
			if heads == 0 || heads > MaxHeads {
				return nil, fmt.Errorf("heads=%d: a disk has from 1 to %d heads", heads, MaxHeads)
			}
			opts.Heads = int(heads)
			opts.MinSeekTime, opts.MaxSeekTime = DefaultMinSeekTime, DefaultMaxSeekTime
			var minSet, maxSet bool
			for _, d := range []struct {
				key string
				dst *time.Duration
				set *bool
			}{{"min-seek-time", &opts.MinSeekTime, &minSet}, {"max-seek-time", &opts.MaxSeekTime, &maxSet}} {
				v, ok := p.Lookup(d.key)
				if !ok {
					continue
				}
				if *d.dst, err = ParseSeconds(v); err != nil {
					return nil, fmt.Errorf("%s=%s: %w", d.key, v, err)
				}
				*d.set = true
			}
			// A bound given alone moves the default of the other out of its way.
			switch {
			case maxSet && !minSet:
				opts.MinSeekTime = min(opts.MinSeekTime, opts.MaxSeekTime)
			case minSet && !maxSet:
				opts.MaxSeekTime = max(opts.MaxSeekTime, opts.MinSeekTime)
			}
			return New(next, opts)
		},
	}
}

// New returns a layer that delays requests to next as a spinning disk would.
func New(next server.Layer, opts Options) (server.Layer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, disks: make(map[string]*disk)}, nil
}

type filter struct {
	server.PassThrough
	opts Options

	mu    sync.Mutex
	disks map[string]*disk // by export name
}

func (f *filter) Name() string { return "spinning" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f, export: req.ExportName}, nil
}

// diskFor returns the heads of an export of size bytes, made by its first connection.
func (f *filter) diskFor(export string, size int64) *disk {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.disks[export]
	if d == nil {
		d = newDisk(size, f.opts.Heads)
		f.disks[export] = d
	}
	return d
}

type handle struct {
	server.PassThroughHandle
	f      *filter
	export string
	disk   *disk // set by Prepare
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	h.disk = h.f.diskFor(h.export, size)
	return nil
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Rotational = true
	return c, err
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.disk.access(ctx, &h.f.opts, off, int64(len(p)), func() error {
		return h.Next.ReadAt(ctx, p, off, flags)
	})
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.disk.access(ctx, &h.f.opts, off, int64(len(p)), func() error {
		return h.Next.WriteAt(ctx, p, off, flags)
	})
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.disk.access(ctx, &h.f.opts, off, length, func() error {
		return h.Next.Zero(ctx, off, length, flags)
	})
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.disk.access(ctx, &h.f.opts, off, length, func() error {
		return h.Next.Cache(ctx, off, length, flags)
	})
}
