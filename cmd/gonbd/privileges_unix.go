//go:build unix

package main

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// become switches to id once the server listens, so that it can bind privileged ports
// or sockets yet serve without privileges: the group first, while still allowed to,
// and the supplementary groups with it, as nbdkit does.
func (id identity) become() error {
	if id.gid >= 0 {
		if err := syscall.Setgroups([]int{id.gid}); err != nil {
			return fmt.Errorf("-g: setgroups: %w", err)
		}
		if err := syscall.Setgid(id.gid); err != nil {
			return fmt.Errorf("-g: setgid: %w", err)
		}
	}
	if id.uid >= 0 {
		if err := syscall.Setuid(id.uid); err != nil {
			return fmt.Errorf("-u: setuid: %w", err)
		}
	}
	return nil
}

// lockMemory locks the process in RAM for --swap: a server that the kernel would have
// to page out to serve the swap device it is would deadlock.
func lockMemory() error {
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
		return fmt.Errorf("--swap: mlockall: %w", err)
	}
	return nil
}
