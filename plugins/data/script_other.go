//go:build !unix

package data

import "os/exec"

// ownProcessGroup does nothing where there are no process groups: killProcessGroup
// kills the shell alone.
func ownProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup kills the started cmd.
func killProcessGroup(cmd *exec.Cmd) {
	// The process may be gone already; there is nothing to do about an error.
	_ = cmd.Process.Kill()
}
