package extentlist

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd -r --filter=extentlist PLUGIN extentlist=FILENAME
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "extentlist",
		Version:     moduleVersion(),
		Description: "place an extent list over a plugin",
		ConfigHelp:  "extentlist=<FILENAME>  (required) The file of extents: \"offset length [type]\" per line.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			name, err := p.Required("extentlist")
			if err != nil {
				return nil, fmt.Errorf("%w: the file of extents, e.g. extentlist=extents.txt", err)
			}
			f, err := os.Open(name)
			if err != nil {
				return nil, fmt.Errorf("extentlist=%s: %w", name, err)
			}
			defer f.Close()
			list, err := Parse(f)
			if err != nil {
				return nil, fmt.Errorf("extentlist=%s: %w", name, err)
			}
			return New(next, list), nil
		},
	}
}

// New returns a layer that answers extent queries from list, as [Parse] returns it
// (sorted, covering every offset), instead of asking next. Writes do not update it.
func New(next server.Layer, list []server.Extent) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, list: list}
}

type filter struct {
	server.PassThrough
	list []server.Extent
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, list: f.list}, nil
}

type handle struct {
	server.PassThroughHandle
	list []server.Extent
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Extents = true
	return c, err
}

// Extents adds the listed extents from the one holding off up to the end of the range.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	i := sort.Search(len(h.list), func(i int) bool { return h.list[i].Offset+h.list[i].Length > off })
	for end := off + length; i < len(h.list) && h.list[i].Offset < end; i++ {
		x := h.list[i]
		if err := e.Add(x.Offset, x.Length, x.Type); err != nil {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			break
		}
	}
	return nil
}
