package memory

import (
	"sync"
	"unsafe"
)

// stripeCount is how many locks guard a store's blocks. Blocks map to stripes by the
// low bits of their index, so neighbouring blocks never share a lock and requests to
// different regions rarely wait for each other. A power of two, so that the mapping is
// a mask.
const stripeCount = 1024

// cacheLineSize is a conservative guess of the CPU's cache line, used to keep each
// stripe's lock word on a line of its own: two cores taking unrelated locks must not
// bounce one line between them.
const cacheLineSize = 64

type paddedRWMutex struct {
	sync.RWMutex
	_ [cacheLineSize - unsafe.Sizeof(sync.RWMutex{})%cacheLineSize]byte
}

// stripedLocks guards the blocks of a store: readers of a block hold its stripe's read
// lock and writers its write lock. It replaces one lock per block (too much memory for
// an exabyte of sparse blocks) and one lock for the whole store (every request would
// wait on it).
type stripedLocks [stripeCount]paddedRWMutex

// forBlock returns the lock of block i.
func (l *stripedLocks) forBlock(i uint64) *sync.RWMutex {
	return &l[i&(stripeCount-1)].RWMutex
}
