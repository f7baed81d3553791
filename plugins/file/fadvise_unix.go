//go:build linux || freebsd

package file

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveFadvise is true where posix_fadvise(2) exists: there cache requests prefetch
// with it, and fadvise= takes effect.
const haveFadvise = true

// adviseAccess announces the access pattern of a whole file.
func adviseAccess(fd int, a Advice) error {
	advice := unix.FADV_NORMAL
	switch a {
	case AdviceRandom:
		advice = unix.FADV_RANDOM
	case AdviceSequential:
		advice = unix.FADV_SEQUENTIAL
	}
	return os.NewSyscallError("posix_fadvise", unix.Fadvise(fd, 0, 0, advice))
}

// willNeed asks the kernel to read a range into its page cache ahead of use.
func willNeed(fd int, off, length int64) error {
	return os.NewSyscallError("posix_fadvise", unix.Fadvise(fd, off, length, unix.FADV_WILLNEED))
}
