package memory

import (
	"bytes"
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// The sparse allocator keeps the disk as fixed-size pages, made on the first write that
// puts something other than zeroes in them and dropped again when trim or zero leaves
// them all zeroes. Pages that do not exist read as zeroes.
//
// Pages are found through a radix tree of page indexes (see pageTree), so a 2⁶³-1 byte
// disk costs a few kilobytes until it is used.
//
// Concurrency: finding a page takes no lock, and a read of a page that does not exist
// takes none at all. The bytes of a page
// are guarded by the stripe lock of its index (see stripedLocks): readers hold it
// shared, writers, trims and zeroes exclusively, and a page is only made or dropped under
// the exclusive lock.
const (
	// pageShift gives 32 KiB pages, as nbdkit uses: large enough that the tree stays
	// shallow and a 4 KiB request touches one page, small enough that a scattered
	// write costs little memory.
	pageShift = 15
	pageSize  = 1 << pageShift
	pageMask  = pageSize - 1
)

type page [pageSize]byte

// zeroPage is compared against, never written.
var zeroPage page

type sparseStore struct {
	size  int64
	tree  pageTree[page]
	locks *stripedLocks
	// allocated counts the pages in existence, for tests and --dump-plugin.
	allocated atomic.Int64
}

func newSparseStore(size int64) *sparseStore {
	return &sparseStore{size: size, tree: newPageTree[page](size), locks: new(stripedLocks)}
}

// span splits the request at off of n bytes at the next page boundary: it returns the
// page index, the offset within the page and how many bytes fall in that page.
func span(off int64, n int) (index uint64, inPage int, length int) {
	index = uint64(off) >> pageShift
	inPage = int(off & pageMask)
	return index, inPage, min(n, pageSize-inPage)
}

func (s *sparseStore) readAt(p []byte, off int64) {
	for len(p) > 0 {
		i, inPage, n := span(off, len(p))
		s.readPage(i, p[:n], inPage)
		p, off = p[n:], off+int64(n)
	}
}

func (s *sparseStore) readPage(i uint64, p []byte, inPage int) {
	leaf, _ := s.tree.leaf(i)
	if leaf == nil {
		clear(p)
		return
	}
	slot := &leaf.pages[i&levelMask]
	if slot.Load() == nil {
		clear(p)
		return
	}
	mu := s.locks.forBlock(i)
	mu.RLock()
	// Load again under the lock: a trim may have dropped the page since.
	if pg := slot.Load(); pg != nil {
		copy(p, pg[inPage:])
	} else {
		clear(p)
	}
	mu.RUnlock()
}

func (s *sparseStore) writeAt(p []byte, off int64) {
	for len(p) > 0 {
		i, inPage, n := span(off, len(p))
		s.writePage(i, p[:n], inPage)
		p, off = p[n:], off+int64(n)
	}
}

func (s *sparseStore) writePage(i uint64, p []byte, inPage int) {
	leaf, _ := s.tree.leaf(i)
	if leaf == nil {
		if isZero(p) {
			return // it reads as zeroes already
		}
		leaf = s.tree.leafForWrite(i)
	}
	slot := &leaf.pages[i&levelMask]
	mu := s.locks.forBlock(i)
	mu.Lock()
	pg := slot.Load()
	if pg == nil {
		// Writing zeroes to a missing page changes nothing; not making it keeps
		// clients that write zeroes instead of sending zero requests sparse.
		if isZero(p) {
			mu.Unlock()
			return
		}
		pg = new(page)
		slot.Store(pg)
		s.allocated.Add(1)
	}
	copy(pg[inPage:], p)
	mu.Unlock()
}

// zero makes [off, off+length) read as zeroes, dropping every page that ends up all
// zeroes. nbdkit's sparse array does the same for both trim and zero.
func (s *sparseStore) zero(off, length int64) {
	end := uint64(off) + uint64(length)
	for pos := uint64(off); pos < end; {
		i := pos >> pageShift
		leaf, holeEnd := s.tree.leaf(i)
		if leaf == nil {
			pos = min(holeEnd<<pageShift, end)
			continue
		}
		pageEnd := (i + 1) << pageShift
		n := min(pageEnd, end) - pos
		s.zeroPage(leaf, i, int(pos&pageMask), int(n))
		pos += n
	}
}

func (s *sparseStore) zeroPage(leaf *node[page], i uint64, inPage, n int) {
	slot := &leaf.pages[i&levelMask]
	if slot.Load() == nil {
		return
	}
	mu := s.locks.forBlock(i)
	mu.Lock()
	if pg := slot.Load(); pg != nil {
		if n < pageSize {
			clear(pg[inPage : inPage+n])
		}
		if n == pageSize || isZero(pg[:]) {
			slot.Store(nil)
			s.allocated.Add(-1)
		}
	}
	mu.Unlock()
}

// extents reports pages that exist as data and the rest as holes that read as zeroes.
func (s *sparseStore) extents(off, length int64, flags server.Flags, e *server.ExtentList) error {
	return s.tree.extents(off, length, flags, e)
}

func (s *sparseStore) allocatedPages() int64 { return s.allocated.Load() }

// release drops the pages; the garbage collector frees them.
func (s *sparseStore) release() error {
	s.tree = pageTree[page]{root: &node[page]{}}
	s.allocated.Store(0)
	return nil
}

func isZero(p []byte) bool {
	return bytes.Equal(p, zeroPage[:len(p)])
}
