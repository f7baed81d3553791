package mapfilter

import (
	"fmt"
	"sort"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// A segment is a range of the export, [start, end), sent to the plugin at dest.
type segment struct {
	start, end, dest int64
}

// segmentsFor lays the mappings over an identity map of an export of size bytes, each
// mapping over those before it, and returns the segments covering [0, size) in order.
// plugin is the size of the plugin, which every destination must fit in, and align the
// plugin's minimum block size, which every boundary must be a multiple of.
func segmentsFor(maps []Mapping, size, plugin int64, align int64) ([]segment, error) {
	segs := []segment{{0, size, 0}}
	if size == 0 {
		segs = nil
	}
	for _, m := range maps {
		length := m.Length
		if length == ToEnd {
			length = max(size-m.Start, 0)
		}
		end := m.Start + length
		switch {
		case end > size:
			return nil, server.Errorf(syscall.EINVAL, "map: %s: the range %d-%d goes past the end of the export (%d bytes)", m.describe(), m.Start, end-1, size)
		case m.Dest+length > plugin:
			return nil, server.Errorf(syscall.EINVAL, "map: %s: the destination %d-%d goes past the end of the plugin (%d bytes)", m.describe(), m.Dest, m.Dest+length-1, plugin)
		case align > 1 && (m.Start%align != 0 || length%align != 0 || m.Dest%align != 0):
			return nil, server.Errorf(syscall.EINVAL, "map: %s: the plugin needs requests aligned to %d bytes, and the mapping is not", m.describe(), align)
		case length == 0:
			continue
		}
		segs = overlay(segs, segment{m.Start, end, m.Dest})
	}
	return segs, nil
}

func (m Mapping) describe() string {
	if m.Source == "" {
		return m.String()
	}
	return fmt.Sprintf("%s (%s)", m.Source, m)
}

// overlay returns segs with s laid over them.
func overlay(segs []segment, s segment) []segment {
	out := make([]segment, 0, len(segs)+2)
	for _, old := range segs {
		if old.end <= s.start || old.start >= s.end {
			out = append(out, old)
			continue
		}
		if old.start < s.start { // the part before s survives
			out = append(out, segment{old.start, s.start, old.dest})
		}
		if old.end > s.end { // and so does the part after
			out = append(out, segment{s.end, old.end, old.dest + (s.end - old.start)})
		}
	}
	out = append(out, s)
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return merge(out)
}

// merge joins neighbouring segments that continue each other in the plugin.
func merge(segs []segment) []segment {
	out := segs[:0]
	for _, s := range segs {
		if n := len(out); n > 0 && out[n-1].end == s.start && out[n-1].dest+(out[n-1].end-out[n-1].start) == s.dest {
			out[n-1].end = s.end
			continue
		}
		out = append(out, s)
	}
	return out
}

// find returns the index of the segment holding off.
func find(segs []segment, off int64) int {
	return sort.Search(len(segs), func(i int) bool { return segs[i].end > off })
}
