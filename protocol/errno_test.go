package protocol_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// The errors the specification defines, with their values spelled out from its text.
var definedErrnos = []struct {
	e     protocol.Errno
	value uint32
	sys   syscall.Errno
	name  string
}{
	{protocol.EPERM, 1, syscall.EPERM, "EPERM"},
	{protocol.EIO, 5, syscall.EIO, "EIO"},
	{protocol.ENOMEM, 12, syscall.ENOMEM, "ENOMEM"},
	{protocol.EINVAL, 22, syscall.EINVAL, "EINVAL"},
	{protocol.ENOSPC, 28, syscall.ENOSPC, "ENOSPC"},
	{protocol.EOVERFLOW, 75, syscall.EOVERFLOW, "EOVERFLOW"},
	{protocol.ENOTSUP, 95, syscall.ENOTSUP, "ENOTSUP"},
	{protocol.ESHUTDOWN, 108, syscall.ESHUTDOWN, "ESHUTDOWN"},
}

func TestErrnoDefined(t *testing.T) {
	for _, d := range definedErrnos {
		if uint32(d.e) != d.value {
			t.Errorf("%s = %d, the specification says %d", d.name, d.e, d.value)
		}
		if got := d.e.Syscall(); got != d.sys {
			t.Errorf("%s.Syscall() = %v, want %v", d.name, got, d.sys)
		}
		if got := protocol.ErrnoFromSyscall(d.sys); got != d.e {
			t.Errorf("ErrnoFromSyscall(%v) = %v, want %v", d.sys, got, d.e)
		}
		if got := protocol.ErrnoFromSyscall(d.e.Syscall()); got != d.e {
			t.Errorf("%s does not round-trip: %v", d.name, got)
		}
		if got := d.e.String(); got != d.name {
			t.Errorf("String() = %q, want %q", got, d.name)
		}
		if got := d.e.Error(); got != d.sys.Error() {
			t.Errorf("%s.Error() = %q, want %q", d.name, got, d.sys.Error())
		}
		if !errors.Is(d.e, d.sys) || !errors.Is(fmt.Errorf("wrapped: %w", d.e), d.sys) {
			t.Errorf("errors.Is(%s, %v) is false", d.name, d.sys)
		}
		for _, o := range definedErrnos {
			if o.e != d.e && errors.Is(d.e, o.sys) {
				t.Errorf("errors.Is(%s, %v) is true", d.name, o.sys)
			}
		}
	}
}

func TestErrnoFromSyscall(t *testing.T) {
	for _, tc := range []struct {
		sys  syscall.Errno
		want protocol.Errno
	}{
		{0, 0},
		{syscall.EROFS, protocol.EPERM},
		{syscall.EACCES, protocol.EPERM},
		{syscall.EOPNOTSUPP, protocol.ENOTSUP},
		{syscall.EFBIG, protocol.ENOSPC},
		{syscall.EDQUOT, protocol.ENOSPC},
		{syscall.ERANGE, protocol.EINVAL},
		{syscall.E2BIG, protocol.EINVAL},
		{syscall.EBADMSG, protocol.EINVAL},
		// No closer match: EIO.
		{syscall.ENOENT, protocol.EIO},
		{syscall.EBADF, protocol.EIO},
		{syscall.EAGAIN, protocol.EIO},
		{syscall.Errno(4000), protocol.EIO},
	} {
		if got := protocol.ErrnoFromSyscall(tc.sys); got != tc.want {
			t.Errorf("ErrnoFromSyscall(%d %v) = %v, want %v", tc.sys, tc.sys, got, tc.want)
		}
	}
}

func TestErrnoUndefined(t *testing.T) {
	// A client treats errors the specification does not define as EINVAL.
	for _, e := range []protocol.Errno{2, 13, 27, 122, 0xffffffff} {
		if got := e.Syscall(); got != syscall.EINVAL {
			t.Errorf("Errno(%d).Syscall() = %v, want EINVAL", e, got)
		}
		if !errors.Is(e, syscall.EINVAL) {
			t.Errorf("errors.Is(Errno(%d), EINVAL) is false", e)
		}
		if got, want := e.String(), fmt.Sprintf("Errno(%d)", e); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	// Zero is success: no system error, and it matches none.
	if got := protocol.Errno(0).Syscall(); got != 0 {
		t.Errorf("Errno(0).Syscall() = %v", got)
	}
	if errors.Is(protocol.Errno(0), syscall.Errno(0)) || errors.Is(protocol.Errno(0), syscall.EINVAL) {
		t.Errorf("Errno(0) matches a system error")
	}
	if got := protocol.Errno(0).Error(); got != "success" {
		t.Errorf("Errno(0).Error() = %q", got)
	}
	// Is compares with system errors only.
	if errors.Is(protocol.ENOSPC, errors.New("no space left on device")) {
		t.Errorf("Errno matches a non-Errno error")
	}
}
