//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package data

import (
	"errors"
	"fmt"
	"runtime"
)

// canLockMemory says whether allocator=malloc,mlock=true can work on this platform.
const canLockMemory = false

// allocateZeroed returns size zeroed bytes from the Go heap, where this platform has no
// mmap to call, and a function that lets them go.
func allocateZeroed(size int) (b []byte, release func() error, err error) {
	defer func() {
		// make panics, recoverably, for lengths the runtime can never satisfy.
		if recover() != nil {
			b, release, err = nil, nil, errors.New("the size is too large for this platform")
		}
	}()
	return make([]byte, size), func() error { return nil }, nil
}

func lockInMemory([]byte) error {
	return fmt.Errorf("mlock is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
