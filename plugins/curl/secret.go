package curl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// maxSecret bounds what is read of a secret's file or descriptor.
const maxSecret = 1 << 20

// A secretReader reads secrets given with nbdkit's syntax for passwords
// (nbdkit_read_password), which the password=, proxy-password= and cookie= parameters
// share:
//
//	VALUE   the secret itself
//	-       read it from the terminal on standard input, without echo
//	-FD     read it from the inherited file descriptor FD (3 and up), then close it
//	+FILE   read it from FILE
//
// A secret read from a file or descriptor loses one trailing newline.
type secretReader struct {
	// stdin is where "-" reads; it must be a terminal.
	stdin *os.File
	// prompt is where "-" asks for the secret.
	prompt io.Writer
}

// read returns the secret that value gives for the parameter key.
func (r secretReader) read(key, value string) (string, error) {
	switch {
	case value == "-":
		return r.readTerminal(key)
	case strings.HasPrefix(value, "-"):
		return readSecretFD(key, value)
	case strings.HasPrefix(value, "+"):
		data, err := readCapped(os.Open(value[1:]))
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", key, value, err)
		}
		return strings.TrimSuffix(data, "\n"), nil
	}
	return value, nil
}

// readSecretFD reads the secret of "-FD" from the inherited descriptor FD.
func readSecretFD(key, value string) (string, error) {
	fd, err := server.ParseInt(value[1:], 32)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s=%s: expected -FD, a file descriptor number: %w", key, value, err)
	case fd <= 2:
		return "", fmt.Errorf("%s=%s: the descriptor of a secret cannot be standard input, output or error (use %s=- to type it)", key, value, key)
	}
	f := os.NewFile(uintptr(fd), key)
	if f == nil {
		return "", fmt.Errorf("%s=%s: not a valid file descriptor", key, value)
	}
	data, err := readCapped(f, nil)
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w", key, value, err)
	}
	return strings.TrimSuffix(data, "\n"), nil
}

// readCapped reads and closes f, refusing more than maxSecret bytes.
func readCapped(f *os.File, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	switch {
	case err != nil:
		return "", err
	case len(data) > maxSecret:
		return "", fmt.Errorf("more than %d bytes: not a secret", maxSecret)
	}
	return string(data), nil
}

// errNotTerminal is the error of "-" when standard input is not a terminal.
var errNotTerminal = errors.New("standard input is not a terminal, so the secret cannot be typed (give it with +FILE or -FD)")

// readTerminal asks for the secret on the terminal of standard input, with echo
// turned off while it is typed.
func (r secretReader) readTerminal(key string) (string, error) {
	if r.stdin == nil {
		return "", fmt.Errorf("%s=-: %w", key, errNotTerminal)
	}
	restore, err := disableEcho(r.stdin)
	if err != nil {
		return "", fmt.Errorf("%s=-: %w", key, err)
	}
	fmt.Fprintf(r.prompt, "%s: ", key)
	line, err := bufio.NewReader(r.stdin).ReadString('\n')
	restore()
	fmt.Fprintln(r.prompt) // the newline the user typed was not echoed
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("%s=-: reading the terminal: %w", key, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
