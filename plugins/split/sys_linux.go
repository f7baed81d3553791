//go:build linux

package split

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// haveFallocate is true where the plugin can punch holes and zero ranges with
// fallocate(2).
const haveFallocate = true

// punchHole deallocates a range of a file, which then reads as zeroes.
func punchHole(fd int, off, length int64) error {
	return fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
}

// zeroRange makes a range read as zeroes, keeping it allocated.
func zeroRange(fd int, off, length int64) error {
	return fallocate(fd, unix.FALLOC_FL_ZERO_RANGE, off, length)
}

// allocateRange allocates a range (after punchHole, to zero it without trimming).
func allocateRange(fd int, off, length int64) error {
	return fallocate(fd, 0, off, length)
}

func fallocate(fd int, mode uint32, off, length int64) error {
	for {
		err := unix.Fallocate(fd, mode, off, length)
		if err == unix.EINTR {
			continue
		}
		return os.NewSyscallError("fallocate", err)
	}
}

// fdatasync commits a file's data to stable storage.
func fdatasync(f *os.File) error {
	fd := int(f.Fd())
	for {
		err := unix.Fdatasync(fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
}
