//go:build !(linux || freebsd || darwin)

package partitioning

import (
	"os"

	"github.com/gonbd/gonbd/server"
)

// fileExtents reports [off, off+length) of a partition's file, which starts at byte
// base of the disk, as data: this system has no SEEK_DATA to find holes with.
func fileExtents(f *os.File, off, length, base int64, e *server.ExtentList) error {
	return e.Add(base+off, length, server.ExtentData)
}
