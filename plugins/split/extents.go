package split

import (
	"context"
	"errors"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// errReqOne stops the walk over the files once one extent answers a request with
// FlagReqOne.
var errReqOne = errors.New("one extent is enough")

// Extents reports the data and holes of each file the range covers, as lseek(2)
// finds them with SEEK_DATA and SEEK_HOLE, at their place in the export. Holes read
// as zeroes.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	err := h.each(off, length, func(p *part, fileOff, n int64) error {
		return partExtents(p, fileOff, fileOff+n, flags&server.FlagReqOne != 0, e)
	})
	if err == errReqOne {
		return nil
	}
	return err
}

// partExtents adds the extents of [off, end) of one file.
func partExtents(p *part, off, end int64, reqOne bool, e *server.ExtentList) error {
	add := func(from, to int64, t server.ExtentType) error {
		if err := e.Add(p.start+from, to-from, t); err != nil {
			return err
		}
		if reqOne {
			return errReqOne
		}
		return nil
	}
	for off < end {
		data, err := seekData(p.fd, off)
		switch {
		case errors.Is(err, syscall.ENXIO):
			data = end // a hole up to the end of the file
		case err != nil:
			return err
		}
		data = min(data, end)
		if data > off {
			if err := add(off, data, server.ExtentHole|server.ExtentZero); err != nil {
				return err
			}
		}
		if data >= end {
			return nil
		}
		hole, err := seekHole(p.fd, data)
		if err != nil {
			return err
		}
		if hole <= data {
			return server.Errorf(syscall.EIO, "lseek found a hole at %d inside the data starting at %d of %s",
				hole, data, p.f.Name())
		}
		hole = min(hole, end)
		if err := add(data, hole, server.ExtentData); err != nil {
			return err
		}
		off = hole
	}
	return nil
}
