//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package ssh

import "golang.org/x/sys/unix"

// The ioctl requests that get and set a terminal's settings.
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
