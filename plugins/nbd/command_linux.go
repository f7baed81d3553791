package nbd

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel send the server SIGTERM if this process dies
// without stopping it, so that no server outlives gonbd.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
