//go:build !linux && !darwin && !freebsd

package split

import (
	"os"
	"syscall"
)

// haveSeekHole is true where lseek(2) can find data and holes. Here extents are not
// offered, and clients see the whole export as data.
const haveSeekHole = false

func seekData(fd int, off int64) (int64, error) {
	return 0, os.NewSyscallError("lseek SEEK_DATA", syscall.ENOTSUP)
}

func seekHole(fd int, off int64) (int64, error) {
	return 0, os.NewSyscallError("lseek SEEK_HOLE", syscall.ENOTSUP)
}
