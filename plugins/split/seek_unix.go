//go:build linux || darwin || freebsd

package split

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSeekHole is true where lseek(2) can find data and holes: there the plugin
// reports extents.
const haveSeekHole = true

// seekData returns the start of the first data at or after off; ENXIO means there is
// none before the end of the file.
func seekData(fd int, off int64) (int64, error) {
	pos, err := unix.Seek(fd, off, unix.SEEK_DATA)
	return pos, os.NewSyscallError("lseek SEEK_DATA", err)
}

// seekHole returns the start of the first hole at or after off (the end of the file
// counts as one).
func seekHole(fd int, off int64) (int64, error) {
	pos, err := unix.Seek(fd, off, unix.SEEK_HOLE)
	return pos, os.NewSyscallError("lseek SEEK_HOLE", err)
}
