package exitlast

import (
	"context"
	"log/slog"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=exitlast PLUGIN
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "exitlast",
		Version:     moduleVersion(),
		Description: "shut the server down when the last client disconnects",
		ConfigHelp:  "(no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next, p.Logger), nil
		},
	}
}

// New returns a layer that shuts the server down ([server.Shutdown]) when the last
// client connected to next disconnects. log may be nil.
//
// A client's connection is counted from Preconnect until the context Preconnect
// received is done, which the server arranges to be when the connection closes.
func New(next server.Layer, log *slog.Logger) server.Layer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, log: log}
}

type filter struct {
	server.PassThrough
	log *slog.Logger

	mu        sync.Mutex
	connected int
}

func (f *filter) Name() string { return "exitlast" }

func (f *filter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	if err := f.Next.Preconnect(ctx, info); err != nil {
		return err
	}
	f.mu.Lock()
	f.connected++
	f.mu.Unlock()
	context.AfterFunc(ctx, func() { f.leave(ctx) })
	return nil
}

// leave counts a connection out, and shuts the server down if it was the last. ctx is
// the connection's, done by now but still carrying the server it belongs to.
func (f *filter) leave(ctx context.Context) {
	f.mu.Lock()
	f.connected--
	last := f.connected == 0
	f.mu.Unlock()
	if !last {
		return
	}
	f.log.Info("the last client disconnected: shutting down")
	if !server.Shutdown(ctx) {
		f.log.Warn("cannot shut down: the connection's context does not come from a server")
	}
}
