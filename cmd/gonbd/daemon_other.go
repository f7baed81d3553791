//go:build !unix

package main

import (
	"errors"
	"syscall"
)

// backgroundSupported says whether gonbd can go to the background here: not on this
// system, where it serves in the foreground as if -f were given.
const backgroundSupported = false

func detachedProcAttr() *syscall.SysProcAttr { return nil }

func detachStderr() error { return errors.New("not supported on this system") }
