//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package ssh

import (
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readSecretLine writes prompt to w and reads a line from the terminal f with echo
// turned off, restoring the terminal's settings afterwards. It returns errNotTerminal,
// before prompting, if f is no terminal.
func readSecretLine(f *os.File, w io.Writer, prompt string) (string, error) {
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
	if _, err := io.WriteString(w, prompt); err != nil {
		return "", err
	}
	defer io.WriteString(w, "\n") // the user's newline was not echoed

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
