//go:build unix

package exitwhen

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// checkDescriptor returns an error unless fd is open.
func checkDescriptor(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return fmt.Errorf("file descriptor %d is not open: %w", fd, err)
	}
	return nil
}

// descriptorClosed reports whether the other end of a pipe or socket has hung up,
// without reading anything from it. A descriptor that is no longer open counts as
// closed.
func descriptorClosed(fd int) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | pollPeerHangup}}
	for {
		_, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		return fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL|pollPeerHangup) != 0, nil
	}
}

// processExited reports whether process pid is gone (or a zombie nobody reaped yet).
func processExited(pid int) (bool, error) {
	err := unix.Kill(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return true, nil
	case err != nil && !errors.Is(err, unix.EPERM): // EPERM: it exists, and is not ours
		return false, err
	}
	return isZombie(pid), nil
}
