package split

import (
	"context"
	"errors"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// errNoFastZero sends a zero request back to the server, which writes zeroes unless
// the client asked for a fast zero, and then fails it with ENOTSUP. It is made once:
// clients such as qemu-img send fast zeroes on purpose to find out.
var errNoFastZero = &server.Error{
	Errno: syscall.ENOTSUP,
	Err:   errors.New("no fast way to zero this range: the file system supports none"),
}

// Trim punches a hole in each file the range covers. Trim is advisory: a file
// system that cannot punch holes leaves the data, and only the errors that say
// something is wrong (EIO, EPERM) reach the client, as in nbdkit's file plugin.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	err := h.each(off, length, func(p *part, fileOff, n int64) error {
		err := punchHole(p.fd, fileOff, n)
		if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EPERM) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return h.syncIfFUA(off, length, flags)
}

// Zero makes the range read as zeroes in each file it covers, the fastest way the
// file system allows: punching a hole when the client allows trimming, zeroing the
// range (FALLOC_FL_ZERO_RANGE), or punching a hole and allocating the range again.
// When none works it returns ENOTSUP, and the server writes zeroes over the whole
// range unless the client asked for a fast zero.
func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	err := h.each(off, length, func(p *part, fileOff, n int64) error {
		return zeroPart(p.fd, fileOff, n, flags&server.FlagMayTrim != 0)
	})
	if err != nil {
		return err
	}
	return h.syncIfFUA(off, length, flags)
}

func zeroPart(fd int, off, length int64, mayTrim bool) error {
	if mayTrim {
		if err := punchHole(fd, off, length); !notSupported(err) {
			return err
		}
	}
	if err := zeroRange(fd, off, length); !notSupported(err) {
		return err
	}
	if err := punchHole(fd, off, length); !notSupported(err) {
		if err != nil {
			return err
		}
		if err := allocateRange(fd, off, length); !notSupported(err) {
			return err
		}
	}
	return errNoFastZero
}

// notSupported reports whether err says that the file system does not support an
// operation. nil is not "unsupported": the caller is done.
func notSupported(err error) bool {
	return err != nil && (errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP))
}
