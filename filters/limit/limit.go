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

// New returns a layer that lets at most n clients be connected at once to next; 0 means
// no limit.
//
// A client's connection is counted from Preconnect until the context Preconnect
// received is done, which the server arranges to be when the connection closes.
func New(next server.Layer, n int) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, limit: n}
}

type filter struct {
	server.PassThrough
	limit int

	mu        sync.Mutex
	connected int
}

func (f *filter) Name() string { return "limit" }

func (f *filter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	if err := f.Next.Preconnect(ctx, info); err != nil {
		return err
	}
	if f.limit == 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connected >= f.limit {
		return server.Errorf(syscall.EBUSY, "limit: too many clients: %d connected, the limit is %d", f.connected, f.limit)
	}
	f.connected++
	context.AfterFunc(ctx, f.leave)
	return nil
}

// leave counts a connection out.
func (f *filter) leave() {
	f.mu.Lock()
	f.connected--
	f.mu.Unlock()
}
