//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package data

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// canLockMemory says whether allocator=malloc,mlock=true can work on this platform.
const canLockMemory = true

// allocateZeroed returns size zeroed bytes in an anonymous private mapping, which the
// kernel commits page by page when first touched, and the function that unmaps it.
func allocateZeroed(size int) ([]byte, func() error, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return unix.Munmap(b) }, nil
}

// lockInMemory keeps b in RAM, never swapped out.
func lockInMemory(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	err := unix.Mlock(b)
	if errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("%w (is the locked-memory limit, ulimit -l, high enough?)", err)
	}
	return err
}
