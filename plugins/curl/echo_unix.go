//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package curl

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// disableEcho turns off the echo of the terminal f, and returns what turns it back on.
// It fails with errNotTerminal when f is not a terminal.
func disableEcho(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return nil, errNotTerminal
	}
	if err != nil {
		return nil, fmt.Errorf("reading the terminal's settings: %w", err)
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return nil, fmt.Errorf("turning the terminal's echo off: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, ioctlSetTermios, saved) }, nil
}
