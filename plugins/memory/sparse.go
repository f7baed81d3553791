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
// Pages are found through a radix tree of page indexes, as deep as the disk needs and no
// deeper: a leaf holds leafFanout pages, each level above multiplies the span by
// nodeFanout, and the root has only as many entries as the disk reaches. Only the paths
// to written pages exist, so a 2⁶³-1 byte disk costs a few kilobytes until it is used.
// Tree nodes are never removed, which bounds their overhead by the area ever written
// (one 32 KiB node per 128 MiB region touched), not by the disk's size.
//
// Concurrency: tree links and page slots are atomic pointers, so finding a page takes no
// lock and a read of a page that does not exist takes none at all. The bytes of a page
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

	// levelBits is the number of page-index bits each tree level resolves.
	levelBits  = 12
	nodeFanout = 1 << levelBits
	levelMask  = nodeFanout - 1
)

type page [pageSize]byte

// zeroPage is compared against, never written.
var zeroPage page

// A node is an interior node (children set) or a leaf (pages set) of the page tree.
type node struct {
	children []atomic.Pointer[node]
	pages    []atomic.Pointer[page]
}

type sparseStore struct {
	size int64
	// depth is the number of interior levels above the leaves; 0 when the root is
	// itself the only leaf.
	depth int
	root  *node
	locks *stripedLocks
	// allocated counts the pages in existence, for tests and --dump-plugin.
	allocated atomic.Int64
}

func newSparseStore(size int64) *sparseStore {
	pages := (uint64(size) + pageMask) >> pageShift
	depth := 0
	for span := uint64(nodeFanout); span < pages; span <<= levelBits {
		depth++
	}
	// The root covers the disk exactly; every node below it is full-sized.
	rootEntries := int((pages + (1<<(depth*levelBits) - 1)) >> (depth * levelBits))
	root := &node{}
	if depth == 0 {
		root.pages = make([]atomic.Pointer[page], rootEntries)
	} else {
		root.children = make([]atomic.Pointer[node], rootEntries)
	}
	return &sparseStore{size: size, depth: depth, root: root, locks: new(stripedLocks)}
}

// leaf returns the leaf holding page i. If a node on the way does not exist, it returns
// nil and the index of the first page after the missing node's span, so that callers
// can skip the whole hole at once.
func (s *sparseStore) leaf(i uint64) (leaf *node, holeEnd uint64) {
	n := s.root
	for level := s.depth; level > 0; level-- {
		shift := level * levelBits
		child := n.children[(i>>shift)&levelMask].Load()
		if child == nil {
			return nil, (i>>shift + 1) << shift
		}
		n = child
	}
	return n, 0
}

// leafForWrite returns the leaf holding page i, making the missing nodes on the way.
func (s *sparseStore) leafForWrite(i uint64) *node {
	n := s.root
	for level := s.depth; level > 0; level-- {
		slot := &n.children[(i>>(level*levelBits))&levelMask]
		child := slot.Load()
		if child == nil {
			fresh := &node{}
			if level == 1 {
				fresh.pages = make([]atomic.Pointer[page], nodeFanout)
			} else {
				fresh.children = make([]atomic.Pointer[node], nodeFanout)
			}
			// Another writer may have made the same node meanwhile; its node wins
			// and ours is garbage.
			if slot.CompareAndSwap(nil, fresh) {
				child = fresh
			} else {
				child = slot.Load()
			}
		}
		n = child
	}
	return n
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
	leaf, _ := s.leaf(i)
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
	leaf, _ := s.leaf(i)
	if leaf == nil {
		if isZero(p) {
			return // it reads as zeroes already
		}
		leaf = s.leafForWrite(i)
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
		leaf, holeEnd := s.leaf(i)
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

func (s *sparseStore) zeroPage(leaf *node, i uint64, inPage, n int) {
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
	const hole = server.ExtentHole | server.ExtentZero
	end := uint64(off) + uint64(length)
	first := true
	var firstType server.ExtentType
	for pos := uint64(off); pos < end; {
		i := pos >> pageShift
		var next uint64
		var t server.ExtentType
		if leaf, holeEnd := s.leaf(i); leaf == nil {
			next, t = min(holeEnd<<pageShift, end), hole
		} else {
			// No lock: the answer is a snapshot either way, as the page may
			// change as soon as the reply is sent.
			next = min((i+1)<<pageShift, end)
			if leaf.pages[i&levelMask].Load() == nil {
				t = hole
			} else {
				t = server.ExtentData
			}
		}
		if first {
			first, firstType = false, t
		} else if flags&server.FlagReqOne != 0 && t != firstType {
			break // the first extent is complete
		}
		// The list merges neighbours of one type, so adding page by page still
		// gives one extent per run.
		if err := e.Add(int64(pos), int64(next-pos), t); err != nil {
			return err
		}
		pos = next
	}
	return nil
}

func (s *sparseStore) allocatedPages() int64 { return s.allocated.Load() }

// release drops the pages; the garbage collector frees them.
func (s *sparseStore) release() error {
	s.root = &node{}
	s.depth = 0
	s.allocated.Store(0)
	return nil
}

func isZero(p []byte) bool {
	return bytes.Equal(p, zeroPage[:len(p)])
}
