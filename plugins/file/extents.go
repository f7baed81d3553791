package file

import (
	"context"
	"errors"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Extents reports the file's data and holes in [off, off+length), as lseek(2) finds
// them with SEEK_DATA and SEEK_HOLE. Holes read as zeroes. With FlagReqOne the first
// extent is enough.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	end := off + length
	for off < end {
		data, err := seekData(h.fd, off)
		switch {
		case errors.Is(err, syscall.ENXIO):
			data = end // a hole up to the end of the file
		case err != nil:
			return err
		}
		data = min(data, end)
		if data > off {
			if err := e.Add(off, data-off, server.ExtentHole|server.ExtentZero); err != nil {
				return err
			}
			if flags&server.FlagReqOne != 0 {
				return nil
			}
		}
		if data >= end {
			return nil
		}
		hole, err := seekHole(h.fd, data)
		if err != nil {
			return err
		}
		if hole <= data {
			return server.Errorf(syscall.EIO, "lseek found a hole at %d inside the data starting at %d of %s",
				hole, data, h.f.Name())
		}
		hole = min(hole, end)
		if err := e.Add(data, hole-data, server.ExtentData); err != nil {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			return nil
		}
		off = hole
	}
	return nil
}
