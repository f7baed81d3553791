package noparallel

import (
	"context"
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=noparallel PLUGIN [serialize=requests|all-requests|connections]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "noparallel",
		Version:     moduleVersion(),
		Description: "disable parallel requests",
		ConfigHelp: "serialize=requests|all-requests|connections\n" +
			"    How much to serialize: one request at a time per connection (the default),\n" +
			"    one request at a time overall, or one connection at a time.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			model := server.SerializeRequests
			if value, ok := p.Lookup("serialize"); ok {
				var err error
				if model, err = ParseMode(value); err != nil {
					return nil, fmt.Errorf("serialize=%s: %w", value, err)
				}
			}
			return New(next, model), nil
		},
	}
}

// ParseMode returns the thread model a serialize= value names: "requests",
// "all-requests" or "connections" (nbdkit's "all_requests" is accepted too).
func ParseMode(value string) (server.ThreadModel, error) {
	switch value {
	case "requests":
		return server.SerializeRequests, nil
	case "all-requests", "all_requests":
		return server.SerializeAllRequests, nil
	case "connections":
		return server.SerializeConnections, nil
	}
	return 0, fmt.Errorf("unknown serialization mode (expected requests, all-requests or connections)")
}

// New returns a layer whose thread model is at most model, so that the server never
// runs more requests at once than model allows, whatever next accepts. Under
// [server.SerializeConnections] the export stops advertising multi-conn, since a second
// connection would have to wait for the first to end.
func New(next server.Layer, model server.ThreadModel) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, model: model}
}

type filter struct {
	server.PassThrough
	model server.ThreadModel
}

// ThreadModel returns the stricter of the filter's model and next's.
func (f *filter) ThreadModel() server.ThreadModel {
	return min(f.model, f.Next.ThreadModel())
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil || f.ThreadModel() != server.SerializeConnections {
		return h, err
	}
	return singleConnHandle{server.PassThroughHandle{Next: h}}, nil
}

// singleConnHandle hides multi-conn, which a server that serves one connection at a
// time cannot honour.
type singleConnHandle struct{ server.PassThroughHandle }

func (h singleConnHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.MultiConn = false
	return c, err
}
