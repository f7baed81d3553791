package timelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter.
type Options struct {
	// Limit is how long a connection may last, from when the server accepted it. It
	// must be positive.
	Limit time.Duration
	// Logger receives a record for each connection the filter ends. Default: discard.
	Logger *slog.Logger
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=time-limit PLUGIN time-limit=DURATION
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "time-limit",
		Version:     moduleVersion(),
		Description: "disconnect each client a fixed time after it connected",
		ConfigHelp:  "time-limit=DURATION  How long a connection may last: seconds, or 500ms, 30s, 2m, 1h (required).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			v, err := p.Required("time-limit")
			if err != nil {
				return nil, err
			}
			limit, err := ParseDuration(v)
			if err == nil && limit == 0 {
				err = errors.New("the limit must be more than zero")
			}
			if err != nil {
				return nil, fmt.Errorf("time-limit=%s: %w", v, err)
			}
			return New(next, Options{Limit: limit, Logger: p.Logger})
		},
	}
}

// New returns a layer that ends each connection to next opts.Limit after it was
// accepted.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.Limit <= 0 {
		return nil, fmt.Errorf("time-limit: the limit must be positive, not %v", opts.Limit)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Name() string { return "time-limit" }

// Open arms the connection's timer. A connection may open an export more than once
// (NBD_OPT_INFO, then NBD_OPT_GO); every timer counts from the same moment, and Close
// disarms it.
func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	info, ok := server.ConnInfoFrom(ctx)
	if ok && !info.Accepted.IsZero() {
		start = info.Accepted
	}
	timer := time.AfterFunc(time.Until(start.Add(f.opts.Limit)), func() {
		f.opts.Logger.Info("the connection reached its time limit: disconnecting", "conn", info.ID, "limit", f.opts.Limit)
		if !server.Disconnect(ctx, false) {
			f.opts.Logger.Warn("cannot disconnect: the context does not come from a connection", "conn", info.ID)
		}
	})
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, timer: timer}, nil
}

type handle struct {
	server.PassThroughHandle
	timer *time.Timer
}

func (h *handle) Close(ctx context.Context) error {
	h.timer.Stop()
	return h.Next.Close(ctx)
}
