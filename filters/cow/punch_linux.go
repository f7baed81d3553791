package cow

import (
	"os"
	"syscall"
)

// Flags of fallocate(2), which package syscall does not name.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// punchHole frees the file's storage for [off, off+length) where the file system can.
// It is only a saving: the overlay never reads a block it marked as zero, so failures
// (a file system without hole punching) are ignored.
func punchHole(f *os.File, off, length int64) {
	_ = syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, length)
}
