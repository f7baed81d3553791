package main

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exitWithParentSupported says whether --exit-with-parent works here.
const exitWithParentSupported = true

// exitWithParent asks the kernel to send SIGTERM, which shuts the server down cleanly,
// when the parent process exits. parentPID is the parent when gonbd started: if it is
// already gone, the signal would never come.
func exitWithParent(parentPID int) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_PDEATHSIG)", err)
	}
	if os.Getppid() != parentPID {
		return errors.New("the parent process has already exited")
	}
	return nil
}
