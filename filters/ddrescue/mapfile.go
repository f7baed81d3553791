package ddrescue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// A Range is a rescued range of bytes: [Offset, Offset+Length).
type Range struct {
	Offset, Length int64
}

// ParseMapfile reads a GNU ddrescue mapfile and returns the ranges it marks as
// finished ('+'), sorted and merged. Comment lines start with '#'; the first other line
// is the status line (current position, status, optionally the pass); each line after
// it is "pos size status", the numbers in C syntax (usually 0x hexadecimal).
func ParseMapfile(r io.Reader) ([]Range, error) {
	var good []Range
	sc := bufio.NewScanner(r)
	sawStatus := false
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if !sawStatus {
			if len(fields) < 2 || len(fields) > 3 {
				return nil, fmt.Errorf("line %d: cannot parse the status line %q (expected: current_pos current_status [current_pass])", line, text)
			}
			sawStatus = true
			continue
		}
		if len(fields) != 3 || len(fields[2]) != 1 || !strings.Contains("?*/-+", fields[2]) {
			return nil, fmt.Errorf("line %d: cannot parse %q (expected: pos size status, the status one of ?*/-+)", line, text)
		}
		pos, err := server.ParseInt(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: pos: %w", line, err)
		}
		size, err := server.ParseInt(fields[1], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: size: %w", line, err)
		}
		if pos < 0 || size < 0 || pos > math.MaxInt64-size {
			return nil, fmt.Errorf("line %d: block %q out of range", line, text)
		}
		if fields[2] == "+" && size > 0 {
			good = append(good, Range{pos, size})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawStatus {
		return nil, errors.New("no status line: not a ddrescue mapfile")
	}
	return merge(good), nil
}

// merge sorts ranges and joins those that overlap or touch.
func merge(ranges []Range) []Range {
	slices.SortFunc(ranges, func(a, b Range) int {
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return 0
	})
	var out []Range
	for _, r := range ranges {
		if n := len(out); n > 0 && r.Offset <= out[n-1].Offset+out[n-1].Length {
			out[n-1].Length = max(out[n-1].Offset+out[n-1].Length, r.Offset+r.Length) - out[n-1].Offset
			continue
		}
		out = append(out, r)
	}
	return out
}
