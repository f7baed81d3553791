package mapfilter

import (
	"context"
	"fmt"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=map PLUGIN map=FILE|START-END:DEST [map=...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "map",
		Version:     moduleVersion(),
		Description: "send ranges of the export to other offsets of the plugin",
		ConfigHelp: "map=FILE  Read mappings from FILE, one per line: START,LENGTH DEST or START-END DEST.\n" +
			"map=START-END:DEST  A mapping given inline (also START,LENGTH:DEST). Repeatable;\n" +
			"                    later mappings win where they overlap earlier ones.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			values := p.All("map")
			if len(values) == 0 {
				return nil, fmt.Errorf("missing required parameter map (a map file, or START-END:DEST)")
			}
			var maps []Mapping
			for _, v := range values {
				m, err := ParseParam(v)
				if err != nil {
					return nil, fmt.Errorf("map=%s: %w", v, err)
				}
				maps = append(maps, m...)
			}
			return New(next, maps), nil
		},
	}
}

// New returns a layer that sends the ranges of maps to their destinations in next,
// later mappings over earlier ones, and every other byte to the same offset. The
// export is as large as next's. Mappings that do not fit are refused when a client
// opens the export, since only then is its size known.
func New(next server.Layer, maps []Mapping) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, maps: append([]Mapping(nil), maps...)}
}

type filter struct {
	server.PassThrough
	maps []Mapping
}

func (f *filter) Name() string { return "map" }

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, maps: f.maps}, nil
}

type handle struct {
	server.PassThroughHandle
	maps []Mapping
	segs []segment // set by Prepare
}

// Prepare lays the mappings out, now that the plugin's size and alignment are known.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	h.segs, err = segmentsFor(h.maps, size, size, int64(max(bs.Minimum, 1)))
	return err
}

// each calls op for each piece of [off, off+length) as the plugin sees it: its offset
// there, and its offset and length in the request.
func (h *handle) each(off, length int64, op func(dest, at, n int64) error) error {
	end := off + length
	for i := find(h.segs, off); off < end; i++ {
		s := h.segs[i]
		n := min(end, s.end) - off
		if err := op(s.dest+(off-s.start), off, n); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if i := find(h.segs, off); i < len(h.segs) && off+int64(len(p)) <= h.segs[i].end { // in one piece, the common case
		return h.Next.ReadAt(ctx, p, h.segs[i].dest+(off-h.segs[i].start), flags)
	}
	return h.each(off, int64(len(p)), func(dest, at, n int64) error {
		return h.Next.ReadAt(ctx, p[at-off:at-off+n], dest, flags)
	})
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if i := find(h.segs, off); i < len(h.segs) && off+int64(len(p)) <= h.segs[i].end {
		return h.Next.WriteAt(ctx, p, h.segs[i].dest+(off-h.segs[i].start), flags)
	}
	return h.each(off, int64(len(p)), func(dest, at, n int64) error {
		return h.Next.WriteAt(ctx, p[at-off:at-off+n], dest, flags)
	})
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.each(off, length, func(dest, _, n int64) error {
		return h.Next.Trim(ctx, dest, n, flags)
	})
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.each(off, length, func(dest, _, n int64) error {
		return h.Next.Zero(ctx, dest, n, flags)
	})
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.each(off, length, func(dest, _, n int64) error {
		return h.Next.Cache(ctx, dest, n, flags)
	})
}

// extentLists holds the lists Extents asks the plugin about; pooled, so that block
// status allocates nothing once warm.
var extentLists = sync.Pool{New: func() any { return new(server.ExtentList) }}

// Extents asks the plugin about each piece of the range and reports its answers at
// the export's offsets. It stops early where the plugin said less than it was asked
// about, which the protocol allows, and after the first piece when one extent is
// enough.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	inner := extentLists.Get().(*server.ExtentList)
	defer extentLists.Put(inner)
	end := off + length
	for i := find(h.segs, off); off < end; i++ {
		s := h.segs[i]
		n := min(end, s.end) - off
		dest := s.dest + (off - s.start)
		inner.Reset(dest, dest+n)
		if err := h.Next.Extents(ctx, dest, n, flags, inner); err != nil {
			return err
		}
		covered := int64(0)
		for _, x := range inner.Extents() {
			if err := e.Add(x.Offset-dest+off, x.Length, x.Type); err != nil {
				return err
			}
			covered += x.Length
		}
		if covered < n || flags&server.FlagReqOne != 0 {
			return nil
		}
		off += n
	}
	return nil
}
