package limit

import (
	"context"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=limit PLUGIN [limit=N]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "limit",
		Version:     moduleVersion(),
		Description: "limit the number of clients connected at once",
		ConfigHelp:  "limit=N  The most clients connected at once (default 1; 0 means no limit).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			n, err := p.Uint32("limit", 1)
			if err != nil {
				return nil, err
			}
			return New(next, int(n)), nil
		},
	}
}

// New returns a layer that lets at most n clients use next at once; 0 means no limit.
//
// A client counts from its connection's first Open until the context of that Open is
// done, which the server arranges to be when the connection closes. New clients are
// turned away in Preconnect while the limit is reached, and in Open if they got that
// far meanwhile.
func New(next server.Layer, n int) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, limit: n, clients: make(map[uint64]bool)}
}

type filter struct {
	server.PassThrough
	limit int

	mu      sync.Mutex
	clients map[uint64]bool // the connections counted, by ID
	anon    uint64          // numbers connections without a ConnInfo (tests, embedders)
}

func (f *filter) Name() string { return "limit" }

func (f *filter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	if f.limit > 0 {
		f.mu.Lock()
		n := len(f.clients)
		f.mu.Unlock()
		if n >= f.limit {
			return f.tooMany(n)
		}
	}
	return f.Next.Preconnect(ctx, info)
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if f.limit > 0 {
		if err := f.admit(ctx); err != nil {
			return nil, err
		}
	}
	return f.Next.Open(ctx, req)
}

// admit counts the connection ctx belongs to in, unless it already is, or refuses it
// when the limit is reached.
func (f *filter) admit(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := server.ConnInfoFrom(ctx)
	id := info.ID
	if !ok {
		f.anon++
		id = 1<<63 + f.anon
	}
	if f.clients[id] {
		return nil // a second open on one connection (NBD_OPT_INFO, then NBD_OPT_GO)
	}
	if len(f.clients) >= f.limit {
		return f.tooMany(len(f.clients))
	}
	f.clients[id] = true
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		delete(f.clients, id)
		f.mu.Unlock()
	})
	return nil
}

func (f *filter) tooMany(n int) error {
	return server.Errorf(syscall.EBUSY, "limit: too many clients: %d connected, the limit is %d", n, f.limit)
}
