//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package ssh

import (
	"errors"
	"io"
	"os"
)

// readSecretLine cannot turn echo off here: password=- is refused.
func readSecretLine(*os.File, io.Writer, string) (string, error) {
	return "", errors.New("typing the password is not supported on this system: use password=+FILE")
}
