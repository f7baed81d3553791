package ssh

import "golang.org/x/sys/unix"

// The ioctl requests that get and set a terminal's settings.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
