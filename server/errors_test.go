package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

func TestErrnoOf(t *testing.T) {
	sentinel := errors.New("disk on fire")
	pathErr := &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}
	tests := []struct {
		name string
		err  error
		want protocol.Errno
	}{
		{"nil", nil, 0},
		{"plain error", sentinel, protocol.EIO},
		{"Errorf ENOSPC", Errorf(syscall.ENOSPC, "full"), protocol.ENOSPC},
		{"Errorf EROFS", Errorf(syscall.EROFS, "read-only"), protocol.EPERM},
		{"Error without errno", &Error{Err: sentinel}, protocol.EIO},
		{"wrapped Error", fmt.Errorf("context: %w", Errorf(syscall.EINVAL, "bad")), protocol.EINVAL},
		{"bare syscall.Errno", syscall.ENOMEM, protocol.ENOMEM},
		{"os error", pathErr, protocol.EPERM},
		{"wrapped os error", fmt.Errorf("reading: %w", pathErr), protocol.EPERM},
		{"unknown syscall.Errno", syscall.ENOENT, protocol.EIO},
		{"zero syscall.Errno", syscall.Errno(0), protocol.EIO},
		{"protocol.Errno", fmt.Errorf("x: %w", protocol.EOVERFLOW), protocol.EOVERFLOW},
		{"Error beats inner errno", Errorf(syscall.ENOSPC, "write: %w", syscall.EIO), protocol.ENOSPC},
		{"panic", &PanicError{Layer: "p", Op: "ReadAt", Value: Errorf(syscall.EPERM, "x")}, protocol.EIO},
		{"context canceled", context.Canceled, protocol.EIO},
		{"deadline exceeded", context.DeadlineExceeded, protocol.EIO},
		{"os.ErrNotExist", os.ErrNotExist, protocol.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrnoOf(tt.err); got != tt.want {
				t.Errorf("ErrnoOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	sentinel := errors.New("sector 7 unreadable")
	err := Errorf(syscall.ENOSPC, "writing block: %w", sentinel)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Error("errors.Is(err, ENOSPC) = false")
	}
	if !errors.Is(err, sentinel) {
		t.Error("errors.Is(err, sentinel) = false")
	}
	var e *Error
	if !errors.As(err, &e) || e.Errno != syscall.ENOSPC {
		t.Errorf("errors.As(*Error) = %v, %v", e, err)
	}
	if got := (&Error{}).Unwrap(); len(got) != 0 {
		t.Errorf("empty Error unwraps to %v", got)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{Errorf(syscall.ENOSPC, "disk full"), "disk full: no space left on device"},
		{Errorf(syscall.EACCES, "open: %w", syscall.EACCES), "open: permission denied"},
		{&Error{Errno: syscall.EINVAL}, "invalid argument"},
		{&Error{}, "input/output error"},
		{&Error{Err: errors.New("boom")}, "boom"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestPanicError(t *testing.T) {
	var runtimeErr runtime.Error
	func() {
		defer func() {
			runtimeErr, _ = recover().(runtime.Error)
		}()
		var empty []int
		i := len(empty) + 3 // an index the compiler does not see through
		_ = empty[i]
	}()
	err := error(&PanicError{Layer: "mem", Op: "ReadAt", Value: runtimeErr, Stack: []byte("stack")})
	if !strings.Contains(err.Error(), "mem: panic in ReadAt: runtime error: index out of range [3] with length 0") {
		t.Errorf("message %q lacks the layer, op or value", err)
	}
	var re runtime.Error
	if !errors.As(err, &re) {
		t.Error("a PanicError of a runtime.Error does not unwrap to it")
	}
	if (&PanicError{Value: 42}).Unwrap() != nil {
		t.Error("a PanicError of a non-error unwraps to something")
	}
}

func TestConnInfo(t *testing.T) {
	ctx := context.Background()
	if _, ok := ConnInfoFrom(ctx); ok {
		t.Error("ConnInfoFrom(Background) found a connection")
	}
	want := ConnInfo{ID: 7, TLS: true, ExportName: "disk"}
	got, ok := ConnInfoFrom(WithConnInfo(ctx, want))
	if !ok || got != want {
		t.Errorf("ConnInfoFrom = %+v, %v; want %+v, true", got, ok, want)
	}
}
