package file

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// errNoFastZero sends a zero request back to the server, which writes zeroes unless
// the client asked for a fast zero, and then fails it with ENOTSUP. It is made once:
// clients such as qemu-img send fast zeroes on purpose to find out.
var errNoFastZero = &server.Error{
	Errno: syscall.ENOTSUP,
	Err:   errors.New("no fast way to zero this range: the file system and device support none"),
}

// Trim punches a hole, which the file system may refuse: trim is advisory, so only
// the errors that say something is wrong (EIO, EPERM) reach the client, as in nbdkit.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if !h.noPunchHole.Load() {
		held := h.lockEdges(off, length)
		err := punchHole(h.fd, off, length)
		h.unlockEdges(held)
		switch {
		case err == nil:
		case errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EPERM):
			return err
		case notSupported(err):
			h.noPunchHole.Store(true)
			h.p.log.Debug("trim: the file cannot have holes punched; trims are ignored", "file", h.f.Name(), "err", err)
		default:
			h.p.log.Debug("trim: ignoring a failed hole punch", "file", h.f.Name(), "err", err)
		}
	}
	return h.syncIfFUA(flags)
}

// Zero makes a range read as zeroes the fastest way the file allows, trying in
// nbdkit's order: punch a hole (if the client allows trimming), zero the range
// (FALLOC_FL_ZERO_RANGE, not for block devices), punch a hole and allocate the range
// again, and for block devices BLKZEROOUT. What turns out unsupported is not tried
// again on this connection. When nothing works it returns ENOTSUP, and the server
// writes zeroes unless the client asked for a fast zero.
func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	held := h.lockEdges(off, length)
	err := h.zero(off, length, flags)
	h.unlockEdges(held)
	if err != nil {
		return err
	}
	return h.syncIfFUA(flags)
}

func (h *handle) zero(off, length int64, flags server.Flags) error {
	if flags&server.FlagMayTrim != 0 && !h.noPunchHole.Load() {
		err := punchHole(h.fd, off, length)
		if !unsupported(err, &h.noPunchHole) {
			return err
		}
	}
	if !h.blockDevice && !h.noZeroRange.Load() {
		err := zeroRange(h.fd, off, length)
		if !unsupported(err, &h.noZeroRange) {
			return err
		}
	}
	if !h.noPunchHole.Load() && !h.noAllocate.Load() {
		err := punchHole(h.fd, off, length)
		if !unsupported(err, &h.noPunchHole) {
			if err != nil {
				return err
			}
			err = allocateRange(h.fd, off, length)
			if !unsupported(err, &h.noAllocate) {
				return err
			}
		}
	}
	// BLKZEROOUT may make the kernel write zeroes, which a fast zero must not wait for.
	if h.blockDevice && flags&server.FlagFastZero == 0 && !h.noZeroOut.Load() &&
		off%h.sectorSize == 0 && length%h.sectorSize == 0 {
		err := zeroOut(h.fd, off, length)
		if !unsupported(err, &h.noZeroOut) {
			return err
		}
	}
	return errNoFastZero
}

// unsupported reports whether err says that a way of zeroing is not supported, and
// then records it in *not. A nil error is not "unsupported": the caller is done.
func unsupported(err error, not *atomic.Bool) bool {
	if err == nil || !notSupported(err) {
		return false
	}
	not.Store(true)
	return true
}

// notSupported reports whether err means that the file, file system or device does
// not support an operation. ENOTTY is what an ioctl the device lacks returns.
func notSupported(err error) bool {
	return errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOTTY)
}
