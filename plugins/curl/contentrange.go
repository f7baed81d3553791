package curl

import (
	"fmt"
	"strconv"
	"strings"
)

// byteRange is a Content-Range header's value (RFC 9110, section 14.4): "bytes
// FIRST-LAST/SIZE", "bytes FIRST-LAST/*" when the server does not know the size, or
// "bytes */SIZE" in an answer that could not satisfy the range asked for.
type byteRange struct {
	first, last int64
	// size is the size of the whole object, -1 when unknown.
	size int64
	// unsatisfied is true for "bytes */SIZE", which gives only the size.
	unsatisfied bool
}

// parseContentRange parses a Content-Range header.
func parseContentRange(s string) (byteRange, error) {
	r := byteRange{size: -1}
	unit, spec, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return r, fmt.Errorf("Content-Range %q is not in bytes", s)
	}
	span, size, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return r, fmt.Errorf("Content-Range %q has no size after a slash", s)
	}
	if size != "*" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return r, fmt.Errorf("Content-Range %q has a bad size", s)
		}
		r.size = n
	}
	if span == "*" {
		if r.size < 0 {
			return r, fmt.Errorf("Content-Range %q gives neither a range nor a size", s)
		}
		r.unsatisfied = true
		return r, nil
	}
	first, last, ok := strings.Cut(span, "-")
	var err1, err2 error
	r.first, err1 = strconv.ParseInt(first, 10, 64)
	r.last, err2 = strconv.ParseInt(last, 10, 64)
	switch {
	case !ok || err1 != nil || err2 != nil || r.first < 0 || r.last < r.first:
		return r, fmt.Errorf("Content-Range %q has a bad range", s)
	case r.size >= 0 && r.last >= r.size:
		return r, fmt.Errorf("Content-Range %q ends past the object's size", s)
	}
	return r, nil
}

// rangeHeader returns the Range header asking for length bytes at off.
func rangeHeader(off, length int64) string {
	buf := make([]byte, 0, 48)
	buf = append(buf, "bytes="...)
	buf = strconv.AppendInt(buf, off, 10)
	buf = append(buf, '-')
	buf = strconv.AppendInt(buf, off+length-1, 10)
	return string(buf)
}
