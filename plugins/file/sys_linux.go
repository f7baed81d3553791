//go:build linux

package file

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// haveFallocate is true where the plugin can punch holes and zero ranges with
// fallocate(2) (and block devices with BLKZEROOUT).
const haveFallocate = true

// punchHole deallocates a range, which then reads as zeroes.
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
		if err != nil {
			return os.NewSyscallError("fallocate", err)
		}
		return nil
	}
}

// zeroOut asks a block device to zero a range aligned to its sectors (BLKZEROOUT). The
// kernel may write zeroes itself when the device cannot do better, so it is not fast.
func zeroOut(fd int, off, length int64) error {
	r := [2]uint64{uint64(off), uint64(length)}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKZEROOUT, uintptr(unsafe.Pointer(&r))); errno != 0 {
		return os.NewSyscallError("ioctl BLKZEROOUT", errno)
	}
	return nil
}

// blockDeviceSize returns the size of a block device in bytes (BLKGETSIZE64).
func blockDeviceSize(f *os.File) (int64, error) {
	var size uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); errno != 0 {
		return 0, os.NewSyscallError("ioctl BLKGETSIZE64", errno)
	}
	return int64(size), nil
}

// logicalSectorSize returns the logical sector size of a block device (BLKSSZGET), or
// 4096, a multiple of every usual one, when the device does not say.
func logicalSectorSize(fd int) int64 {
	n, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
	if err != nil || n <= 0 {
		return 4096
	}
	return int64(n)
}

// isRotational reports whether a block device is a spinning disk, as sysfs says. A
// partition's queue belongs to the disk holding it, one directory up.
func isRotational(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || !isBlockDevice(info.Mode()) {
		return false
	}
	dev := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
	for _, path := range []string{dev + "/queue/rotational", dev + "/../queue/rotational"} {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b)) == "1"
		}
	}
	return false
}

// fdatasync commits a file's data (and the metadata needed to read it back) to
// stable storage.
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

// openDirect opens the file f has open a second time with O_DIRECT, through
// /proc/self/fd, so that whatever found it (a path, a directory descriptor, an
// inherited descriptor) finds the same file, and f keeps its own flags.
func openDirect(f *os.File, writable bool) (*os.File, error) {
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
	}
	d, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), flag|unix.O_DIRECT, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s with O_DIRECT: %w", f.Name(), reason(err))
	}
	return d, nil
}
