package protect

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// A Range is a protected range of bytes, First to Last inclusive, as the parameter
// writes it.
type Range struct {
	First, Last int64
}

// ParseRange parses a protect= value: "START-END" protects the bytes START to END
// inclusive, "~START-END" everything else. START and END are decimal, octal (0NN) or
// hexadecimal (0xNN), and default to the start and the end of the plugin. It returns
// one range, or two for a complement.
func ParseRange(s string) ([]Range, error) {
	spec, complement := strings.CutPrefix(s, "~")
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, fmt.Errorf("cannot parse range %q (expected START-END or ~START-END)", s)
	}
	r := Range{First: 0, Last: math.MaxInt64}
	for _, bound := range []struct {
		text string
		dst  *int64
	}{{first, &r.First}, {last, &r.Last}} {
		if bound.text == "" {
			continue
		}
		n, err := server.ParseUint(bound.text, 63)
		if err != nil {
			return nil, fmt.Errorf("range %q: %w", s, err)
		}
		*bound.dst = int64(n)
	}
	if r.Last < r.First {
		return nil, fmt.Errorf("invalid range, end < start: %s", s)
	}
	if !complement {
		return []Range{r}, nil
	}
	var out []Range
	if r.First > 0 {
		out = append(out, Range{0, r.First - 1})
	}
	if r.Last < math.MaxInt64 {
		out = append(out, Range{r.Last + 1, math.MaxInt64})
	}
	return out, nil
}

// merge sorts ranges and joins the ones that overlap or touch.
func merge(ranges []Range) []Range {
	ranges = slices.Clone(ranges)
	slices.SortFunc(ranges, func(a, b Range) int { return cmpInt(a.First, b.First) })
	var out []Range
	for _, r := range ranges {
		if n := len(out); n > 0 && (out[n-1].Last == math.MaxInt64 || r.First <= out[n-1].Last+1) {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
