package rotational

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=rotational PLUGIN [rotational=true|false]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "rotational",
		Version:     moduleVersion(),
		Description: "set whether the export is advertised as a rotational disk",
		ConfigHelp:  "rotational=true|false  Advertise a rotational disk or not (default true).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			rotational, err := p.Bool("rotational", true)
			if err != nil {
				return nil, err
			}
			return New(next, rotational), nil
		},
	}
}

// New returns a layer that advertises next as rotational or not.
func New(next server.Layer, rotational bool) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, rotational: rotational}
}

type filter struct {
	server.PassThrough
	rotational bool
}

func (f *filter) Name() string { return "rotational" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, rotational: f.rotational}, nil
}

type handle struct {
	server.PassThroughHandle
	rotational bool
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Rotational = h.rotational
	return c, err
}
