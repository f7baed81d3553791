//go:build !linux

package nbd

import "os/exec"

// setParentDeathSignal does nothing where the kernel cannot signal a child when its
// parent dies: Cleanup stops the server, and a crash of gonbd leaves it running.
func setParentDeathSignal(cmd *exec.Cmd) {}
