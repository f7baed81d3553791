//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package ssh

import (
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readSecretLine reads a line from the terminal f with echo turned off, and restores
// the terminal's settings afterwards.
func readSecretLine(f *os.File) (string, error) {
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", errNotTerminal
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, ioctlSetTermios, saved)

	// Byte by byte, so that nothing typed after the line is consumed.
	var line strings.Builder
	var b [1]byte
	for {
		n, err := f.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return line.String(), nil
			}
			line.WriteByte(b[0])
		}
		switch {
		case errors.Is(err, io.EOF):
			return line.String(), nil
		case err != nil:
			return "", err
		}
	}
}
