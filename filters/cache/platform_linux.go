package cache

import (
	"os"
	"syscall"
)

// Flags of fallocate(2), which package syscall does not name.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// canPunchHoles says whether punchHole frees storage here, which reclaiming needs.
const canPunchHoles = true

// punchHole frees the file's storage for [off, off+length).
func punchHole(f *os.File, off, length int64) error {
	return syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, length)
}

// fsBlockSize returns the block size of the file system holding dir, or 0 if unknown.
func fsBlockSize(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bsize)
}
