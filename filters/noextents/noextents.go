package noextents

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=noextents PLUGIN [PLUGIN-ARGS...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "noextents",
		Version:     moduleVersion(),
		Description: "disable extents in the underlying plugin",
		ConfigHelp:  "(this filter has no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next), nil
		},
	}
}

// New returns a layer that hides next's extents: every range is reported as allocated
// data, and the layers behind are never asked.
func New(next server.Layer) server.Layer {
	return filter{server.PassThrough{Next: next}}
}

type filter struct{ server.PassThrough }

func (f filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return handle{server.PassThroughHandle{Next: h}}, nil
}

type handle struct{ server.PassThroughHandle }

// Capabilities clears Extents, which also stops the server from asking for extents to
// send sparse reads.
func (h handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Extents = false
	return c, err
}

// Extents answers what a plugin without extents answers: all data.
func (h handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}
