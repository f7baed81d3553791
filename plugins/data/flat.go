package data

import (
	"fmt"
	"math"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// A flatStore keeps a disk in one contiguous buffer of its whole size: nbdkit's malloc
// allocator. Where the platform has mmap the buffer is an anonymous mapping, outside
// the Go heap, whose pages the kernel commits on first touch, as a large malloc would.
// It can be locked into RAM (mlock). Like nbdkit's, it reports the whole disk as data.
type flatStore struct {
	mu   sync.RWMutex
	data []byte
	// release returns data to the system.
	release func() error
}

// newFlatStore returns a flat store of size bytes holding what src holds.
func newFlatStore(src *sparseStore, size int64, mlock bool) (*flatStore, error) {
	if size > math.MaxInt {
		return nil, fmt.Errorf("allocator=malloc: a size of %d bytes is more than this platform can address", size)
	}
	data, release := []byte(nil), func() error { return nil }
	if size > 0 {
		var err error
		if data, release, err = allocateZeroed(int(size)); err != nil {
			return nil, fmt.Errorf("allocator=malloc: cannot allocate %d bytes: %w", size, err)
		}
	}
	// Copying cannot fail: the callback returns no error.
	_ = src.scan(0, size, func(off int64, b []byte, n int64) error {
		copy(data[off:], b) // nothing for holes: data starts zeroed
		return nil
	})
	if mlock {
		if err := lockInMemory(data); err != nil {
			_ = release()
			return nil, fmt.Errorf("allocator=malloc,mlock=true: cannot lock %d bytes in memory: %w", size, err)
		}
	}
	return &flatStore{data: data, release: release}, nil
}

func (f *flatStore) readAt(p []byte, off int64) {
	f.mu.RLock()
	copy(p, f.data[off:])
	f.mu.RUnlock()
}

func (f *flatStore) writeAt(p []byte, off int64) {
	f.mu.Lock()
	copy(f.data[off:], p)
	f.mu.Unlock()
}

func (f *flatStore) zero(off, length int64) {
	f.mu.Lock()
	clear(f.data[off : off+length])
	f.mu.Unlock()
}

func (f *flatStore) extents(off, length int64, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}

func (f *flatStore) close() error { return f.release() }
