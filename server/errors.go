package server

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/protocol"
)

// An Error is an error with the errno a client receives for it.
//
// Plugins and filters need not use it: any error whose chain holds a [syscall.Errno] (as
// the errors of package os do) maps to the matching NBD error, and any other error to
// EIO (see [ErrnoOf]). Error is for the cases where the errno must be chosen, such as
// EINVAL for a request the plugin refuses or ENOSPC for a full disk.
type Error struct {
	// Errno is what the client receives, mapped as by [protocol.ErrnoFromSyscall]; 0
	// means EIO.
	Errno syscall.Errno
	// Err says what went wrong, for the log. It may be nil.
	Err error
}

// Errorf returns an [*Error] with errno and a message formatted as fmt.Errorf does
// (%w works).
func Errorf(errno syscall.Errno, format string, args ...any) error {
	return &Error{Errno: errno, Err: fmt.Errorf(format, args...)}
}

// Error returns the message followed by the text of the errno, unless the message
// already ends in it (as with Errorf("...: %w", fs.ErrPermission-like errors)).
func (e *Error) Error() string {
	if e.Err == nil {
		return e.errno().Error()
	}
	if e.Errno == 0 || errors.Is(e.Err, e.Errno) {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Errno.Error()
}

// Unwrap returns both the errno and the wrapped error, so that errors.Is(err, syscall.ENOSPC)
// and errors.Is(err, wrapped) both hold.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Errno != 0 {
		errs = append(errs, e.Errno)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// NBDErrno returns the NBD error a client receives.
func (e *Error) NBDErrno() protocol.Errno {
	if n := protocol.ErrnoFromSyscall(e.Errno); n != 0 {
		return n
	}
	return protocol.EIO
}

// errno returns the system errno e stands for, EIO when unset.
func (e *Error) errno() syscall.Errno {
	if e.Errno == 0 {
		return syscall.EIO
	}
	return e.Errno
}

// nbdErrnoer is implemented by errors that know the NBD error a client receives for
// them, such as [*Error] and [*PanicError].
type nbdErrnoer interface {
	NBDErrno() protocol.Errno
}

// ErrnoOf returns the NBD error a client receives for err. The first match wins:
//
//  1. an error in err's chain with a method NBDErrno() protocol.Errno (such as [*Error]);
//  2. a [protocol.Errno] in the chain;
//  3. a [syscall.Errno] in the chain, mapped by [protocol.ErrnoFromSyscall] (so the
//     errors of package os map to what they mean);
//  4. otherwise EIO.
//
// nil maps to 0, and a non-nil error never maps to 0. [context.Canceled] and
// [context.DeadlineExceeded] map to EIO like any other error without an errno: by the
// time a request's context ends, the client is usually gone and never sees the reply;
// a plugin that wants ESHUTDOWN returns Errorf(syscall.ESHUTDOWN, ...).
func ErrnoOf(err error) protocol.Errno {
	if err == nil {
		return 0
	}
	var withErrno nbdErrnoer
	if errors.As(err, &withErrno) {
		return nonZero(withErrno.NBDErrno())
	}
	var wire protocol.Errno
	if errors.As(err, &wire) {
		return nonZero(wire)
	}
	var sys syscall.Errno
	if errors.As(err, &sys) {
		return nonZero(protocol.ErrnoFromSyscall(sys))
	}
	return protocol.EIO
}

// nonZero keeps an error from turning into success on the wire.
func nonZero(e protocol.Errno) protocol.Errno {
	if e == 0 {
		return protocol.EIO
	}
	return e
}

// A PanicError is the error a request fails with when a plugin method panics: the
// panic fails that request alone, with EIO, never the connection or the process. The
// server logs Stack.
type PanicError struct {
	// Layer is the name of the plugin that panicked, Op the method (such as "ReadAt").
	Layer, Op string
	// Value is the value passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as runtime/debug.Stack formats it.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: panic in %s: %v", e.Layer, e.Op, e.Value)
}

// NBDErrno returns EIO, whatever the panic value holds.
func (e *PanicError) NBDErrno() protocol.Errno { return protocol.EIO }

// Unwrap returns the panic value if it is an error (as with runtime errors), so that
// errors.As finds a [runtime.Error].
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
