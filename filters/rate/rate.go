package rate

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options are the filter's limits, in bits per second. The zero value limits nothing.
type Options struct {
	// Rate limits the bandwidth of all connections together; 0 means no limit.
	Rate uint64
	// ConnectionRate limits the bandwidth of each connection; 0 means no limit.
	ConnectionRate uint64
	// RateFile and ConnectionRateFile, when set, name files holding a rate (with
	// the size suffixes of the command line: 10M) that replaces Rate or
	// ConnectionRate while the server runs. They are read at start and at most
	// once a second afterwards; a missing file keeps the last rate.
	RateFile, ConnectionRateFile string
	// Burstiness is how many seconds' worth of bits an idle client may send or
	// receive at once. 0 means the default, 2.
	Burstiness float64
	// Logger receives rate changes; nil discards them.
	Logger *slog.Logger
}

// DefaultBurstiness is the burstiness of the zero Options.
const DefaultBurstiness = 2.0

// maxSleep bounds one wait, so that a rate changed by a file takes effect within a
// second even for a request that waits long.
const maxSleep = time.Second

// New returns a layer in front of next that limits the bits per second read and
// written (each direction has its own limit), as opts says. Only the data of reads
// and writes counts: other requests carry almost none over the network.
func New(next server.Layer, opts Options) server.Layer {
	if opts.Burstiness <= 0 {
		opts.Burstiness = DefaultBurstiness
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{
		PassThrough: server.PassThrough{Next: next},
		opts:        opts,
		total:       newLimit(opts.Rate, opts.RateFile, opts.Logger),
		perConn:     newLimit(opts.ConnectionRate, opts.ConnectionRateFile, opts.Logger),
	}
}

type filter struct {
	server.PassThrough
	opts           Options
	total, perConn *limit
	read, write    bucket // all connections together
}

func (f *filter) Name() string { return "rate" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

type handle struct {
	server.PassThroughHandle
	f           *filter
	read, write bucket // this connection's
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.f.wait(ctx, &h.f.read, &h.read, len(p)); err != nil {
		return err
	}
	return h.Next.ReadAt(ctx, p, off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.f.wait(ctx, &h.f.write, &h.write, len(p)); err != nil {
		return err
	}
	return h.Next.WriteAt(ctx, p, off, flags)
}

// wait takes the bits of count bytes from the connection's bucket and then from the
// global one, sleeping while they are short.
func (f *filter) wait(ctx context.Context, global, conn *bucket, count int) error {
	if err := f.drain(ctx, conn, f.perConn, count); err != nil {
		return err
	}
	return f.drain(ctx, global, f.total, count)
}

func (f *filter) drain(ctx context.Context, b *bucket, lim *limit, count int) error {
	bits := float64(count) * 8
	for bits > 0 {
		now := time.Now()
		rate := lim.current(now)
		if rate == 0 {
			return nil
		}
		var wait time.Duration
		if bits, wait = b.take(bits, rate, f.opts.Burstiness, now); bits <= 0 {
			return nil
		}
		if err := sleep(ctx, min(wait, maxSleep)); err != nil {
			return err
		}
	}
	return nil
}

// sleep waits for d, or fails with ESHUTDOWN when ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return server.Errorf(syscall.ESHUTDOWN, "rate limit wait interrupted: %w", ctx.Err())
	}
}
