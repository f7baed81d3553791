package stats

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter.
type Options struct {
	// File is where the statistics are written when the server exits. Required.
	File string
	// Append adds to File instead of replacing it.
	Append bool
	// Threshold is the share of requests, from 0 to 1, that the size and alignment
	// histograms account for before lumping the rest together; 0 leaves the
	// histograms out. Use [DefaultThreshold] for nbdkit's default.
	Threshold float64
	// Logger receives the errors of writing File; nil discards them.
	Logger *slog.Logger
}

// DefaultThreshold is nbdkit's default statsthreshold, 95%.
const DefaultThreshold = 0.95

// New returns a layer in front of next that counts the requests passing through it,
// on every connection, and writes the statistics to opts.File at Cleanup. The file is
// created (or opened to append) by GetReady, so that a bad path stops the server from
// starting.
func New(next server.Layer, opts Options) server.Layer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, threshold: opts.Threshold}
	f.read.name, f.write.name, f.trim.name, f.zero.name = "read", "write", "trim", "zero"
	f.extents.name, f.cache.name, f.flush.name = "extents", "cache", "flush"
	return f
}

type filter struct {
	server.PassThrough
	opts      Options
	threshold float64

	read, write, trim, zero, extents, cache, flush opStat

	mu      sync.Mutex
	file    *os.File // from GetReady to Cleanup
	started time.Time
}

// all returns the statistics in the order of the report.
func (f *filter) all() []*opStat {
	return []*opStat{&f.read, &f.write, &f.trim, &f.zero, &f.extents, &f.cache, &f.flush}
}

func (f *filter) Name() string { return "stats" }

func (f *filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if f.opts.Append {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	file, err := os.OpenFile(f.opts.File, flags, 0o644)
	if err != nil {
		return fmt.Errorf("statsfile: %w", err)
	}
	f.mu.Lock()
	f.file, f.started = file, time.Now()
	f.mu.Unlock()
	return nil
}

func (f *filter) Cleanup(ctx context.Context) {
	f.Next.Cleanup(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		return
	}
	w := bufio.NewWriter(f.file)
	f.report(w, time.Since(f.started))
	err := w.Flush()
	if cerr := f.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.opts.Logger.Error("writing the statistics", "file", f.opts.File, "err", err)
	}
	f.file = nil
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

type handle struct {
	server.PassThroughHandle
	f *filter
}

// done records a request that started at start, if it succeeded, and returns err.
// As in nbdkit, failed requests are not counted.
func done(s *opStat, length, off int64, start time.Time, err error) error {
	if err == nil {
		s.record(uint64(length), uint64(off), time.Since(start), s.name != "flush")
	}
	return err
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	start := time.Now()
	return done(&h.f.read, int64(len(p)), off, start, h.Next.ReadAt(ctx, p, off, flags))
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	start := time.Now()
	return done(&h.f.write, int64(len(p)), off, start, h.Next.WriteAt(ctx, p, off, flags))
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	start := time.Now()
	return done(&h.f.trim, length, off, start, h.Next.Trim(ctx, off, length, flags))
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	start := time.Now()
	return done(&h.f.zero, length, off, start, h.Next.Zero(ctx, off, length, flags))
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	start := time.Now()
	return done(&h.f.extents, length, off, start, h.Next.Extents(ctx, off, length, flags, e))
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	start := time.Now()
	return done(&h.f.cache, length, off, start, h.Next.Cache(ctx, off, length, flags))
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	start := time.Now()
	return done(&h.f.flush, 0, 0, start, h.Next.Flush(ctx, flags))
}
