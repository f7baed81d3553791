package memory

import (
	"fmt"
	"math"

	"github.com/gonbd/gonbd/server"
)

// The malloc allocator keeps the disk in one contiguous buffer: no sparseness, no tree
// to walk. Where the platform has mmap the buffer is an anonymous mapping, outside the
// Go heap: the kernel commits its pages on first touch, as it does for a large malloc,
// and the garbage collector neither scans it nor counts it towards its heap target.
//
// The buffer is cut into blocks of blockSize bytes for locking only, each guarded by
// its stripe lock (see stripedLocks), so that requests to different regions proceed in
// parallel and overlapping ones do not tear each other.
const blockShift = pageShift

type mallocStore struct {
	data  []byte
	locks *stripedLocks
	// free returns data to the system.
	free func() error
}

func newMallocStore(size int64, mlock bool) (*mallocStore, error) {
	if size > math.MaxInt {
		return nil, fmt.Errorf("allocator=malloc: size %d is larger than this platform can address", size)
	}
	var data []byte
	free := func() error { return nil }
	if size > 0 {
		var err error
		data, free, err = allocateZeroed(int(size))
		if err != nil {
			return nil, fmt.Errorf("allocator=malloc: cannot allocate %d bytes: %w", size, err)
		}
	}
	if mlock {
		if err := lockInMemory(data); err != nil {
			free()
			return nil, fmt.Errorf("allocator=malloc,mlock=true: cannot lock %d bytes in memory: %w "+
				"(the locked-memory limit, ulimit -l, may be too low)", size, err)
		}
	}
	return &mallocStore{data: data, locks: new(stripedLocks), free: free}, nil
}

// forEachBlock calls f with each block-sized piece of [off, off+n) while holding that
// block's lock exclusively. readAt and writeAt inline the same loop to keep an indirect
// call off the hot path.
func (m *mallocStore) forEachBlock(off, n int64, f func(block []byte)) {
	for n > 0 {
		i := uint64(off) >> blockShift
		length := min(n, int64(i+1)<<blockShift-off)
		mu := m.locks.forBlock(i)
		mu.Lock()
		f(m.data[off : off+length])
		mu.Unlock()
		off, n = off+length, n-length
	}
}

func (m *mallocStore) readAt(p []byte, off int64) {
	for len(p) > 0 {
		i := uint64(off) >> blockShift
		n := copyLimit(len(p), i, off)
		mu := m.locks.forBlock(i)
		mu.RLock()
		copy(p[:n], m.data[off:])
		mu.RUnlock()
		p, off = p[n:], off+int64(n)
	}
}

func (m *mallocStore) writeAt(p []byte, off int64) {
	for len(p) > 0 {
		i := uint64(off) >> blockShift
		n := copyLimit(len(p), i, off)
		mu := m.locks.forBlock(i)
		mu.Lock()
		copy(m.data[off:], p[:n])
		mu.Unlock()
		p, off = p[n:], off+int64(n)
	}
}

// copyLimit returns how many of n bytes at off fall in block i.
func copyLimit(n int, i uint64, off int64) int {
	return int(min(int64(n), int64(i+1)<<blockShift-off))
}

func (m *mallocStore) zero(off, length int64) {
	m.forEachBlock(off, length, func(block []byte) { clear(block) })
}

// extents reports everything as data, as nbdkit's malloc allocator does: every byte
// exists, whatever it holds.
func (m *mallocStore) extents(off, length int64, _ server.Flags, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}

func (m *mallocStore) allocatedPages() int64 {
	return (int64(len(m.data)) + pageMask) >> pageShift
}

// release frees the buffer. Later requests panic (and fail with EIO) rather than touch
// memory that is no longer mapped.
func (m *mallocStore) release() error {
	free := m.free
	m.data, m.free = nil, func() error { return nil }
	return free()
}
