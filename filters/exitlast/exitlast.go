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
		ConfigHelp:  "(this filter has no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next, p.Logger), nil
		},
	}
}

// New returns a layer that shuts the server down ([server.Shutdown]) when the last
// client of next disconnects. log may be nil.
//
// A client counts from the first export its connection opens until the context of
// that Open is done, which the server arranges to be when the connection closes.
func New(next server.Layer, log *slog.Logger) server.Layer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, log: log, clients: make(map[uint64]bool)}
}

type filter struct {
	server.PassThrough
	log *slog.Logger

	mu      sync.Mutex
	clients map[uint64]bool // the connections counted, by ID
	anon    uint64          // numbers connections without a ConnInfo (tests, embedders)
}

func (f *filter) Name() string { return "exitlast" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	f.count(ctx)
	return h, nil
}

// count counts the connection ctx belongs to in, unless it already is, and arranges
// for it to be counted out when it closes.
func (f *filter) count(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := server.ConnInfoFrom(ctx)
	id := info.ID
	if !ok {
		f.anon++
		id = 1<<63 + f.anon
	}
	if f.clients[id] {
		return // a second open on one connection (NBD_OPT_INFO, then NBD_OPT_GO)
	}
	f.clients[id] = true
	context.AfterFunc(ctx, func() { f.leave(ctx, id) })
}

// leave counts a connection out, and shuts the server down if it was the last. ctx is
// the connection's, done by now but still carrying the server it belongs to.
func (f *filter) leave(ctx context.Context, id uint64) {
	f.mu.Lock()
	delete(f.clients, id)
	last := len(f.clients) == 0
	f.mu.Unlock()
	if !last {
		return
	}
	f.log.Info("the last client disconnected: shutting down")
	if !server.Shutdown(ctx) {
		f.log.Warn("cannot shut down: the context does not come from a server")
	}
}
