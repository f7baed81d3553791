package ssh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// readPassword interprets a password= value as nbdkit does (nbdkit_read_password):
// "-" asks on the terminal, "+FILE" reads FILE, "-FD" reads the inherited file
// descriptor FD, and anything else is the password itself. A newline that ends a file
// or descriptor's contents is not part of the password.
func readPassword(value string) (string, error) {
	switch {
	case value == "-":
		return askPassword()
	case strings.HasPrefix(value, "+"):
		b, err := os.ReadFile(value[1:])
		if err != nil {
			return "", fmt.Errorf("password=%s: %w", value, err)
		}
		return chomp(string(b)), nil
	case strings.HasPrefix(value, "-"):
		return passwordFromFD(value)
	}
	return value, nil
}

// passwordFromFD reads the password from the descriptor "-FD" names, and closes it.
func passwordFromFD(value string) (string, error) {
	fd, err := server.ParseInt(value[1:], 32)
	switch {
	case err != nil:
		return "", fmt.Errorf("password=%s: not a file descriptor: %w", value, err)
	case fd >= 0 && fd <= 2:
		return "", fmt.Errorf("password=%s: standard input, output and error cannot hold the password (use password=- to type it)", value)
	case fd < 0:
		return "", fmt.Errorf("password=%s: not a file descriptor", value)
	}
	f := os.NewFile(uintptr(fd), "password="+value)
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("password=%s: reading descriptor %d: %w", value, fd, err)
	}
	return chomp(string(b)), nil
}

// askPassword prompts for the password on standard error and reads it from standard
// input, which must be a terminal, without echoing it.
func askPassword() (string, error) {
	password, err := readSecretLine(os.Stdin, os.Stderr, "password: ")
	if errors.Is(err, errNotTerminal) {
		return "", errors.New("password=-: standard input is not a terminal to type the password on: use password=+FILE or password=-FD")
	}
	if err != nil {
		return "", fmt.Errorf("password=-: %w", err)
	}
	return password, nil
}

// errNotTerminal says that a password cannot be typed on a file.
var errNotTerminal = errors.New("not a terminal")

// chomp removes one newline from the end of s.
func chomp(s string) string { return strings.TrimSuffix(s, "\n") }
