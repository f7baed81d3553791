//go:build unix

package data

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup runs cmd in a process group of its own, so that killProcessGroup
// (and the cancellation of its context) reaches the programs the script started too.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		killProcessGroup(cmd)
		return nil
	}
}

// killProcessGroup kills the started cmd and every process in its group.
func killProcessGroup(cmd *exec.Cmd) {
	// The group may be gone already; there is nothing to do about an error.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
