package cache

import (
	"container/list"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// blockState is what the cache holds of one block.
type blockState uint8

const (
	// absent: the block is not in the cache; the next layer has its data.
	absent blockState = iota
	// clean: the cache holds the same data as the next layer.
	clean
	// dirty: the cache holds data the next layer has not been given yet.
	dirty
)

// lockStripes is how many mutexes serialise the changes to blocks: a block's changes
// take stripe number block%lockStripes, so that requests on different blocks seldom
// wait for each other and the locks take constant memory whatever the disk's size.
const lockStripes = 256

// A store is the cache file and the state of every block, shared by every connection.
type store struct {
	file      *os.File
	blockSize int64
	// limit is whether blocks are reclaimed, and so kept in LRU order.
	limit bool

	mu     sync.Mutex // guards everything below
	size   int64      // of the export; -1 until the first connection says
	states []blockState
	cached int64 // blocks in the cache, clean or dirty
	dirty  int64 // dirty blocks
	// lru orders the cached blocks from the most recently used (front) to the least,
	// when limit is set; elements holds each cached block's element.
	lru      list.List
	elements map[int64]*list.Element

	// stripes serialise the changes of a block with each other and with its write-back
	// and reclaim; reads of cached blocks hold them shared, so that a block is not
	// dropped under a reader.
	stripes [lockStripes]sync.RWMutex
}

// newStore makes the cache file in dir and removes its name at once, so that the file
// goes away with the process however it ends.
func newStore(dir string, blockSize int64, limit bool) (*store, error) {
	f, err := os.CreateTemp(dir, "gonbd-cache-*")
	if err != nil {
		return nil, fmt.Errorf("cache: creating the cache file (set TMPDIR to a writable directory): %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: removing the cache file's name: %w", err)
	}
	s := &store{file: f, blockSize: blockSize, limit: limit, size: -1}
	if limit {
		s.elements = make(map[int64]*list.Element)
	}
	return s, nil
}

// setSize sizes the cache for an export of size bytes on the first call, and checks
// that later connections see the same size: the cache maps blocks of one disk.
func (s *store) setSize(size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size == -1 {
		s.size = size
		s.states = make([]blockState, (size+s.blockSize-1)/s.blockSize)
		return nil
	}
	if size != s.size {
		return server.Errorf(syscall.EIO,
			"cache: the plugin's size changed from %d to %d bytes; the cache cannot follow a resized disk", s.size, size)
	}
	return nil
}

// blockLen returns the length of block b within the export: blockSize, except for a
// short last block.
func (s *store) blockLen(b int64) int64 { return min(s.blockSize, s.size-b*s.blockSize) }

// lock locks block b against other changes; unlock unlocks it.
func (s *store) lock(b int64)   { s.stripes[b%lockStripes].Lock() }
func (s *store) unlock(b int64) { s.stripes[b%lockStripes].Unlock() }

// rlock locks block b against changes while it is read; runlock unlocks it.
func (s *store) rlock(b int64)   { s.stripes[b%lockStripes].RLock() }
func (s *store) runlock(b int64) { s.stripes[b%lockStripes].RUnlock() }

// state returns the state of block b.
func (s *store) state(b int64) blockState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[b]
}

// run returns whether block first is cached and how many blocks from first on, up to
// last included, are alike in that; the cached ones count as used.
func (s *store) run(first, last int64) (cached bool, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cached = s.states[first] != absent
	for n = 1; first+n <= last && (s.states[first+n] != absent) == cached; n++ {
	}
	if cached {
		for b := first; b < first+n; b++ {
			s.touch(b)
		}
	}
	return cached, n
}

// dirtyRun is run for dirty blocks: whether block first is dirty and how many blocks
// from it up to last are alike.
func (s *store) dirtyRun(first, last int64) (isDirty bool, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	isDirty = s.states[first] == dirty
	for n = 1; first+n <= last && (s.states[first+n] == dirty) == isDirty; n++ {
	}
	return isDirty, n
}

// setState records the new state of block b, keeping the counts and the LRU list;
// the block is locked. It reports whether the cache grew.
func (s *store) setState(b int64, st blockState) (grew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.states[b]
	s.states[b] = st
	if old == dirty {
		s.dirty--
	}
	if st == dirty {
		s.dirty++
	}
	switch {
	case old == absent && st != absent:
		s.cached++
		if s.limit {
			s.elements[b] = s.lru.PushFront(b)
		}
		return true
	case old != absent && st == absent:
		s.cached--
		if s.limit {
			s.lru.Remove(s.elements[b])
			delete(s.elements, b)
		}
	case st != absent:
		s.touch(b)
	}
	return false
}

// touch marks cached block b as just used; s.mu is held.
func (s *store) touch(b int64) {
	if s.limit {
		s.lru.MoveToFront(s.elements[b])
	}
}

// leastRecentlyUsed returns the cached block used longest ago, if any.
func (s *store) leastRecentlyUsed() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lru.Back()
	if e == nil {
		return 0, false
	}
	return e.Value.(int64), true
}

// counts returns the number of cached and of dirty blocks.
func (s *store) counts() (cached, dirtyBlocks int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cached, s.dirty
}

// readFile fills p from the file at off.
func (s *store) readFile(p []byte, off int64) error {
	if _, err := s.file.ReadAt(p, off); err != nil {
		return fmt.Errorf("cache: reading the cache file: %w", err)
	}
	return nil
}

// writeFile stores data as (the start of) block b.
func (s *store) writeFile(b int64, data []byte) error {
	if _, err := s.file.WriteAt(data, b*s.blockSize); err != nil {
		return fmt.Errorf("cache: writing the cache file: %w", err)
	}
	return nil
}

// drop removes block b from the cache and frees its storage; the block is locked.
func (s *store) drop(b int64) {
	s.setState(b, absent)
	// A failure only costs space: the block's data is never read again.
	_ = punchHole(s.file, b*s.blockSize, s.blockSize)
}

func (s *store) close() error { return s.file.Close() }
