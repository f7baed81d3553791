package server

// This file declares the rest of the plugin API's contract; the bodies are to be written.
// (Delete this comment when implemented and split the declarations into files by topic.)

import (
	"context"
	"log/slog"
	"syscall"

	"github.com/gonbd/gonbd/protocol"
)

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

// An ExtentList collects the extents a handle reports for a range (nbdkit's
// nbdkit_extents). Handles call Add in increasing order of offset, without gaps; extents
// before the range's start are clipped, extents past its end are dropped, and adjacent
// extents of the same type are merged. The server owns and reuses lists.
type ExtentList struct {
	start, end int64
	extents    []Extent
}

// NewExtentList returns an empty list for the range [start, end).
func NewExtentList(start, end int64) *ExtentList { panic("TODO") }

// Reset empties the list and sets its range, keeping its storage.
func (e *ExtentList) Reset(start, end int64) { panic("TODO") }

// Add appends the extent [off, off+length) of type t. It returns an error (EINVAL) if the
// extent does not start where the previous one ended (or, for the first, at or before the
// range's start).
func (e *ExtentList) Add(off, length int64, t ExtentType) error { panic("TODO") }

// Extents returns the extents added so far, clipped to the range. The slice is valid
// until the next Reset.
func (e *ExtentList) Extents() []Extent { panic("TODO") }

// Start and End return the list's range.
func (e *ExtentList) Start() int64 { return e.start }
func (e *ExtentList) End() int64   { return e.end }

// An Error is an error with the errno a client receives for it.
type Error struct {
	Errno syscall.Errno
	Err   error
}

// Errorf returns an [*Error] with errno and a message formatted as fmt.Errorf does
// (%w works).
func Errorf(errno syscall.Errno, format string, args ...any) error { panic("TODO") }

func (e *Error) Error() string { panic("TODO") }

// Unwrap returns both the errno and the wrapped error, so that errors.Is(err, syscall.ENOSPC)
// and errors.Is(err, wrapped) both hold.
func (e *Error) Unwrap() []error { panic("TODO") }

// NBDErrno returns the NBD error a client receives.
func (e *Error) NBDErrno() protocol.Errno { panic("TODO") }

// ErrnoOf returns the NBD error a client receives for err: that of an error in its chain
// with an NBDErrno method, else of a syscall.Errno in its chain, else EIO. nil maps to 0.
func ErrnoOf(err error) protocol.Errno { panic("TODO") }

// ConnInfoFrom returns the connection a call is made for, and whether there is one.
func ConnInfoFrom(ctx context.Context) (ConnInfo, bool) { panic("TODO") }

// WithConnInfo returns a context carrying info (for the engine and for tests).
func WithConnInfo(ctx context.Context, info ConnInfo) context.Context { panic("TODO") }

// A Param is one key=value parameter from the command line.
type Param struct{ Key, Value string }

// Params are the parameters of a plugin or filter, in command-line order. Each accessor
// marks the keys it reads as used; the command line refuses parameters nothing used.
type Params struct {
	// Logger is where the plugin or filter logs; never nil when the CLI makes it.
	Logger *slog.Logger
	list   []Param
	used   []bool
}

// PluginLayer adapts a plugin into the complete Layer shape, doing every emulation and
// check in one place. name is used in logs and errors.
func PluginLayer(name string, p Plugin) Layer { panic("TODO") }
