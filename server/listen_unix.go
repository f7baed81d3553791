//go:build unix

package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// pollable returns a copy of f that the runtime's poller manages, so that reads and
// writes wait without holding a thread and deadlines work, and closes f. Only pipes
// and sockets get a copy: making a terminal non-blocking would outlive the process and
// confuse the shell that owns it. On failure it returns f unchanged, which still
// works, only without deadlines.
func pollable(f *os.File) *os.File {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return f
	}
	if kind := st.Mode & unix.S_IFMT; kind != unix.S_IFIFO && kind != unix.S_IFSOCK {
		return f
	}
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return f
	}
	unix.CloseOnExec(fd)
	// os.NewFile registers a descriptor with the poller when it is non-blocking.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return f
	}
	f.Close()
	return os.NewFile(uintptr(fd), f.Name())
}
