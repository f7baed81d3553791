package count

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter. The zero value reports to standard error and logs
// nothing.
type Options struct {
	// Logger receives the totals at info level at cleanup. Default: discard them.
	Logger *slog.Logger
	// Output receives the totals as one line at cleanup. Default: os.Stderr. Set it
	// to io.Discard to keep quiet.
	Output io.Writer
}

// Totals are the bytes that requests which succeeded moved through the filter.
type Totals struct {
	Read, Written, Zeroed, Trimmed uint64
}

// String formats the totals as the report line, without its newline.
func (t Totals) String() string {
	return fmt.Sprintf("count: read %d bytes, written %d bytes, zeroed %d bytes, trimmed %d bytes",
		t.Read, t.Written, t.Zeroed, t.Trimmed)
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=count PLUGIN
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "count",
		Version:     moduleVersion(),
		Description: "count the bytes read, written, zeroed and trimmed, and report them at exit",
		ConfigHelp:  "(this filter has no parameters; it prints the totals on standard error at exit)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next, Options{Logger: p.Logger}), nil
		},
	}
}

// A Filter counts what passes through it. Its counters are shared by every
// connection.
type Filter struct {
	server.PassThrough
	log    *slog.Logger
	output io.Writer

	read, written, zeroed, trimmed atomic.Uint64
}

// New returns a layer that counts the bytes moved through it to next.
func New(next server.Layer, opts Options) *Filter {
	f := &Filter{PassThrough: server.PassThrough{Next: next}, log: opts.Logger, output: opts.Output}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.output == nil {
		f.output = os.Stderr
	}
	return f
}

// Totals returns the counters as they are now.
func (f *Filter) Totals() Totals {
	return Totals{
		Read:    f.read.Load(),
		Written: f.written.Load(),
		Zeroed:  f.zeroed.Load(),
		Trimmed: f.trimmed.Load(),
	}
}

func (f *Filter) Name() string { return "count" }

func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// Cleanup reports the totals, then cleans up the layers behind.
func (f *Filter) Cleanup(ctx context.Context) {
	t := f.Totals()
	f.log.Info("bytes transferred", "read", t.Read, "written", t.Written, "zeroed", t.Zeroed, "trimmed", t.Trimmed)
	if _, err := fmt.Fprintln(f.output, t); err != nil {
		f.log.Warn("could not print the totals", "err", err)
	}
	f.Next.Cleanup(ctx)
}

type handle struct {
	server.PassThroughHandle
	f *Filter
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	err := h.Next.ReadAt(ctx, p, off, flags)
	if err == nil {
		h.f.read.Add(uint64(len(p)))
	}
	return err
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	err := h.Next.WriteAt(ctx, p, off, flags)
	if err == nil {
		h.f.written.Add(uint64(len(p)))
	}
	return err
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	err := h.Next.Zero(ctx, off, length, flags)
	if err == nil {
		h.f.zeroed.Add(uint64(length))
	}
	return err
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	err := h.Next.Trim(ctx, off, length, flags)
	if err == nil {
		h.f.trimmed.Add(uint64(length))
	}
	return err
}
