//go:build !linux

package file

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"syscall"
)

// haveFallocate is true where the plugin can punch holes and zero ranges. Elsewhere
// trim is not offered and zero requests are served by writing zeroes.
const haveFallocate = false

// errNoFallocate makes the server write zeroes instead; it is made once, as zero
// requests fall back on it every time.
var errNoFallocate = &fs.PathError{Op: "fallocate", Path: runtime.GOOS, Err: syscall.ENOTSUP}

func punchHole(fd int, off, length int64) error     { return errNoFallocate }
func zeroRange(fd int, off, length int64) error     { return errNoFallocate }
func allocateRange(fd int, off, length int64) error { return errNoFallocate }
func zeroOut(fd int, off, length int64) error       { return errNoFallocate }

// blockDeviceSize returns the size of a block device, found by seeking to its end
// (reads and writes use explicit offsets, so the file's offset does not matter).
func blockDeviceSize(f *os.File) (int64, error) {
	return f.Seek(0, io.SeekEnd)
}

func logicalSectorSize(fd int) int64 { return 4096 }

func isRotational(info fs.FileInfo) bool { return false }

// fdatasync commits a file's data to stable storage; without fdatasync(2), fsync(2)
// (F_FULLFSYNC on macOS) does.
func fdatasync(f *os.File) error { return f.Sync() }

func openDirect(f *os.File, writable bool) (*os.File, error) {
	return nil, fmt.Errorf("O_DIRECT is not available on %s", runtime.GOOS)
}
