//go:build linux || freebsd || darwin

package partitioning

import (
	"errors"
	"os"

	"github.com/gonbd/gonbd/server"
	"golang.org/x/sys/unix"
)

// fileExtents adds the extents of [off, off+length) of f, a partition's file that
// starts at byte base of the disk, to e: data where SEEK_DATA finds some, holes that
// read as zeroes between. When the file system cannot tell, the range is data.
func fileExtents(f *os.File, off, length, base int64, e *server.ExtentList) error {
	end := off + length
	for off < end {
		data, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = end // no data from off to the end of the file
		} else if err != nil {
			return e.Add(base+off, end-off, server.ExtentData)
		}
		if data > off {
			hole := min(data, end)
			if err := e.Add(base+off, hole-off, server.ExtentHole|server.ExtentZero); err != nil {
				return err
			}
			off = hole
			if off >= end {
				break
			}
		}
		hole, err := f.Seek(off, unix.SEEK_HOLE)
		if err != nil || hole <= off {
			hole = end // the system says nothing more: data
		}
		hole = min(hole, end)
		if err := e.Add(base+off, hole-off, server.ExtentData); err != nil {
			return err
		}
		off = hole
	}
	return nil
}
