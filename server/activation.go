package server

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// listenFDsStart is the first descriptor the socket activation protocol passes
// (SD_LISTEN_FDS_START): 0, 1 and 2 stay standard input, output and error.
const listenFDsStart = 3

// ActivatedListeners returns the listening sockets passed by socket activation
// (systemd's protocol, which nbdkit follows: LISTEN_PID names this process and
// LISTEN_FDS counts the sockets, starting at descriptor 3), or nil when the environment
// does not activate this process. It unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES,
// so that processes this one starts do not take the sockets for theirs.
func ActivatedListeners() ([]net.Listener, error) {
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	n, err := activatedFDs(os.Getpid(), os.Getenv)
	if err != nil || n == 0 {
		return nil, err
	}
	listeners := make([]net.Listener, 0, n)
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		// FileListener works on a copy of the descriptor, which is close-on-exec;
		// closing the original keeps it from leaking into child processes.
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			closeAll(listeners)
			return nil, fmt.Errorf("socket activation: descriptor %d: %w", fd, err)
		}
		listeners = append(listeners, ln)
	}
	return listeners, nil
}

// Activated reports whether the environment activates this process by socket
// activation, without touching the environment or the descriptors, so that a command
// line can refuse options that conflict with it before anything else happens.
func Activated() bool {
	n, err := activatedFDs(os.Getpid(), os.Getenv)
	return err != nil || n > 0
}

// activatedFDs returns how many descriptors socket activation passes to the process
// pid, read from getenv: 0 when LISTEN_PID or LISTEN_FDS is unset or LISTEN_PID names
// another process (a parent's activation, inherited by mistake).
func activatedFDs(pid int, getenv func(string) string) (int, error) {
	pidVar, fdsVar := getenv("LISTEN_PID"), getenv("LISTEN_FDS")
	if pidVar == "" || fdsVar == "" {
		return 0, nil
	}
	listenPID, err := strconv.Atoi(pidVar)
	if err != nil {
		return 0, fmt.Errorf("socket activation: LISTEN_PID=%q is not a process ID", pidVar)
	}
	if listenPID != pid {
		return 0, nil
	}
	n, err := strconv.Atoi(fdsVar)
	if err != nil || n < 0 || n > 1<<16 {
		return 0, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count of descriptors", fdsVar)
	}
	return n, nil
}
