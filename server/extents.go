package server

import "syscall"

// ExtentType describes an extent, with the bits of the base:allocation meta context.
type ExtentType uint32

const (
	// ExtentHole: the range is not allocated.
	ExtentHole ExtentType = 1 << 0
	// ExtentZero: the range reads as zeroes.
	ExtentZero ExtentType = 1 << 1
)

// ExtentData is allocated data (neither bit set).
const ExtentData ExtentType = 0

// An Extent is a range of an export of one type.
type Extent struct {
	Offset, Length int64
	Type           ExtentType
}

// maxExtents bounds the memory one request's list may take, as nbdkit bounds it: once
// the list holds that many extents, more are dropped like extents past the end (the
// client is told less than it asked about, which the protocol allows).
const maxExtents = 1 << 20

// An ExtentList collects the extents a handle reports for a range (nbdkit's
// nbdkit_extents). Handles call Add in increasing order of offset, without gaps; extents
// before the range's start are clipped, extents past its end are dropped, and adjacent
// extents of the same type are merged. The server owns and reuses lists.
//
// A filter that changes offsets makes a list of its own for the range it asks the next
// layer about, and adds the translated extents to the list it was given.
type ExtentList struct {
	start, end int64
	extents    []Extent
	// next is where the next extent must start; valid once added is true.
	next  int64
	added bool
}

// NewExtentList returns an empty list for the range [start, end).
func NewExtentList(start, end int64) *ExtentList {
	e := new(ExtentList)
	e.Reset(start, end)
	return e
}

// Reset empties the list and sets its range, keeping its storage.
func (e *ExtentList) Reset(start, end int64) {
	e.start, e.end = start, end
	e.extents = e.extents[:0]
	e.next, e.added = 0, false
}

// Add appends the extent [off, off+length) of type t. It returns an error (EINVAL) if the
// extent does not start where the previous one ended (or, for the first, at or before the
// range's start), or if off or length is negative.
//
// Extents that end at or before the range's start (before any extent was kept) and
// extents of length 0 are ignored; so are extents at or past the range's end, which
// lets a handle add extents up to the end of whatever it knows about.
func (e *ExtentList) Add(off, length int64, t ExtentType) error {
	if off < 0 || length < 0 || off > maxInt64-length {
		return Errorf(syscall.EINVAL, "extent [%d, +%d) out of range", off, length)
	}
	if e.added && off != e.next {
		return Errorf(syscall.EINVAL,
			"extent at %d added after an extent ending at %d: extents must be added in order, without gaps",
			off, e.next)
	}
	e.next, e.added = off+length, true

	if length == 0 || off >= e.end || len(e.extents) >= maxExtents {
		return nil
	}
	length = min(length, e.end-off)
	if len(e.extents) == 0 {
		if off+length <= e.start {
			return nil // entirely before the range
		}
		if off > e.start {
			return Errorf(syscall.EINVAL,
				"first extent starts at %d, after the start of the range (%d)", off, e.start)
		}
		length -= e.start - off
		off = e.start
	}
	if n := len(e.extents); n > 0 && e.extents[n-1].Type == t {
		e.extents[n-1].Length += length
		return nil
	}
	e.extents = append(e.extents, Extent{Offset: off, Length: length, Type: t})
	return nil
}

// Extents returns the extents added so far, clipped to the range. The slice is valid
// until the next Reset.
func (e *ExtentList) Extents() []Extent { return e.extents }

// Start and End return the list's range.
func (e *ExtentList) Start() int64 { return e.start }
func (e *ExtentList) End() int64   { return e.end }

const maxInt64 = 1<<63 - 1
