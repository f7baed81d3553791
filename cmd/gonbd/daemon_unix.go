//go:build unix

package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// backgroundSupported says whether gonbd can go to the background here.
const backgroundSupported = true

// detachedProcAttr puts the background child in a session of its own, away from the
// terminal's signals (^C) and from its hangup.
func detachedProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// detachStderr points standard error at /dev/null, as a daemon does once it has
// started, so that it neither holds the terminal nor fails writing to a closed one.
func detachStderr() error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	return unix.Dup2(int(null.Fd()), 2)
}
