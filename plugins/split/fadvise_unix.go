//go:build linux || freebsd

package split

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveFadvise is true where posix_fadvise(2) exists: there cache requests prefetch
// with it.
const haveFadvise = true

// willNeed asks the kernel to read a range into its page cache ahead of use.
func willNeed(fd int, off, length int64) error {
	return os.NewSyscallError("posix_fadvise", unix.Fadvise(fd, off, length, unix.FADV_WILLNEED))
}
