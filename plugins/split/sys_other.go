//go:build !linux

package split

import (
	"io/fs"
	"os"
	"runtime"
	"syscall"
)

// haveFallocate is true where the plugin can punch holes and zero ranges. Elsewhere
// trim is not offered and zero requests are served by writing zeroes.
const haveFallocate = false

var errNoFallocate = &fs.PathError{Op: "fallocate", Path: runtime.GOOS, Err: syscall.ENOTSUP}

func punchHole(fd int, off, length int64) error     { return errNoFallocate }
func zeroRange(fd int, off, length int64) error     { return errNoFallocate }
func allocateRange(fd int, off, length int64) error { return errNoFallocate }

// fdatasync commits a file's data to stable storage; without fdatasync(2), fsync(2)
// (F_FULLFSYNC on macOS) does.
func fdatasync(f *os.File) error { return f.Sync() }
