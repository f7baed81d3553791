package extentlist

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// Parse reads an extent list: one extent per line, "offset length [type]", where offset
// and length are sizes (1M, 4k, 512...) and type is a number (the bits of
// [server.ExtentType]), a comma-separated list of the words hole and zero, or missing
// (data). Blank lines and lines starting with # are skipped. The extents may come in any
// order but must not overlap.
//
// The list returned is sorted and covers every offset from 0 to the largest int64:
// gaps are holes that read as zeroes.
func Parse(r io.Reader) ([]server.Extent, error) {
	var list []server.Extent
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		e, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if e.Length > 0 {
			list = append(list, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b server.Extent) int {
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return 0
	})
	return fillGaps(list)
}

func parseLine(text string) (server.Extent, error) {
	fields := strings.Fields(text)
	if len(fields) < 2 || len(fields) > 3 {
		return server.Extent{}, fmt.Errorf("cannot parse %q (expected: offset length [type])", text)
	}
	off, err := server.ParseSize(fields[0])
	if err != nil {
		return server.Extent{}, fmt.Errorf("offset: %w", err)
	}
	length, err := server.ParseSize(fields[1])
	if err != nil {
		return server.Extent{}, fmt.Errorf("length: %w", err)
	}
	if off > math.MaxInt64-length {
		return server.Extent{}, fmt.Errorf("extent %q ends past the largest offset", text)
	}
	e := server.Extent{Offset: off, Length: length}
	if len(fields) == 3 {
		if e.Type, err = parseType(fields[2]); err != nil {
			return server.Extent{}, err
		}
	}
	return e, nil
}

// parseType parses the type field: a number, or words.
func parseType(s string) (server.ExtentType, error) {
	if s[0] >= '0' && s[0] <= '9' {
		n, err := server.ParseUint(s, 32)
		if err != nil {
			return 0, fmt.Errorf("type: %w", err)
		}
		return server.ExtentType(n) & (server.ExtentHole | server.ExtentZero), nil
	}
	var t server.ExtentType
	for word := range strings.SplitSeq(s, ",") {
		switch word {
		case "hole":
			t |= server.ExtentHole
		case "zero":
			t |= server.ExtentZero
		default:
			return 0, fmt.Errorf("type: unknown word %q (expected hole, zero, or both: hole,zero)", word)
		}
	}
	return t, nil
}

// fillGaps checks that the sorted list has no overlaps and returns it with the gaps
// between, before and after its extents filled with holes that read as zeroes.
func fillGaps(list []server.Extent) ([]server.Extent, error) {
	const gap = server.ExtentHole | server.ExtentZero
	out := make([]server.Extent, 0, 2*len(list)+1)
	next := int64(0)
	for _, e := range list {
		if e.Offset < next {
			return nil, fmt.Errorf("extents in the extent list are overlapping (at offset %d)", e.Offset)
		}
		if e.Offset > next {
			out = append(out, server.Extent{Offset: next, Length: e.Offset - next, Type: gap})
		}
		out = append(out, e)
		next = e.Offset + e.Length
	}
	if next < math.MaxInt64 {
		out = append(out, server.Extent{Offset: next, Length: math.MaxInt64 - next, Type: gap})
	}
	return out, nil
}
