package data

import (
	"bytes"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// A sparse store keeps a disk as 32 KiB pages, made by the first write of something
// other than zeroes to them; pages that do not exist read as zeroes. It is both the
// default allocator of the served disk and the scratch space the evaluator writes each
// group into.
//
// Pages are found through a radix tree over page numbers, fanout-wide at each of levels
// levels, so that any offset up to 2⁶³-1 has a page slot, only the paths to existing
// pages take memory (2 KiB a node), and walking a range skips the subtrees that hold no
// page, which keeps extents and zeroing of a mostly empty disk cheap.
//
// One RWMutex guards the store: reads and extents share it, writes and zeroes take it
// alone. The data plugin serves small disks made for testing, where this costs nothing
// worth a finer lock.
const (
	pageShift = 15
	pageSize  = 1 << pageShift

	levelBits = 8
	fanout    = 1 << levelBits
	// levels is how many levels of nodes it takes to index the 2⁴⁸ pages of a
	// 2⁶³-byte disk.
	levels = (63 - pageShift + levelBits - 1) / levelBits
)

type page [pageSize]byte

// zeroPage is compared against and never written.
var zeroPage page

// A radixNode is a node of the page tree: an inner node (kids) or, at level 0, a leaf
// (pages).
type radixNode struct {
	kids  []*radixNode
	pages []*page
}

func newRadixNode(level int) *radixNode {
	if level == 0 {
		return &radixNode{pages: make([]*page, fanout)}
	}
	return &radixNode{kids: make([]*radixNode, fanout)}
}

// slot returns the index of page i among the children of a node at level.
func slot(i uint64, level int) int {
	return int(i>>(level*levelBits)) & (fanout - 1)
}

type sparseStore struct {
	mu    sync.RWMutex
	root  *radixNode // at level levels-1
	count int64      // pages in existence
}

func newSparseStore() *sparseStore {
	return &sparseStore{root: newRadixNode(levels - 1)}
}

// lookup returns page i, or nil if it does not exist. The caller holds s.mu.
func (s *sparseStore) lookup(i uint64) *page {
	n := s.root
	for level := levels - 1; level > 0; level-- {
		if n = n.kids[slot(i, level)]; n == nil {
			return nil
		}
	}
	return n.pages[slot(i, 0)]
}

// create returns page i, making it and the nodes on its way if need be. The caller
// holds s.mu exclusively.
func (s *sparseStore) create(i uint64) *page {
	n := s.root
	for level := levels - 1; level > 0; level-- {
		k := &n.kids[slot(i, level)]
		if *k == nil {
			*k = newRadixNode(level - 1)
		}
		n = *k
	}
	p := &n.pages[slot(i, 0)]
	if *p == nil {
		*p = new(page)
		s.count++
	}
	return *p
}

// seek returns the first page that exists with a number from `from` up to and
// excluding to, and its number; nil if there is none. The caller holds s.mu.
func (s *sparseStore) seek(from, to uint64) (uint64, *page) {
	return s.root.seek(levels-1, 0, from, to)
}

// seek is sparseStore.seek within the subtree of n, at level, whose first page is
// number base; from is at least base.
func (n *radixNode) seek(level int, base, from, to uint64) (uint64, *page) {
	shift := level * levelBits
	for c := int((from - base) >> shift); c < fanout; c++ {
		childBase := base + uint64(c)<<shift
		if childBase >= to {
			break
		}
		if level == 0 {
			if p := n.pages[c]; p != nil {
				return childBase, p
			}
			continue
		}
		if k := n.kids[c]; k != nil {
			if i, p := k.seek(level-1, childBase, max(from, childBase), to); p != nil {
				return i, p
			}
		}
	}
	return 0, nil
}

// readAt fills p with the bytes at off.
func (s *sparseStore) readAt(p []byte, off int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for len(p) > 0 {
		i, inPage := uint64(off)>>pageShift, int(off&(pageSize-1))
		n := min(len(p), pageSize-inPage)
		if pg := s.lookup(i); pg != nil {
			copy(p[:n], pg[inPage:])
		} else {
			clear(p[:n])
		}
		p, off = p[n:], off+int64(n)
	}
}

// writeAt writes p at off. Zeroes written where there is no page make none.
func (s *sparseStore) writeAt(p []byte, off int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(p) > 0 {
		i, inPage := uint64(off)>>pageShift, int(off&(pageSize-1))
		n := min(len(p), pageSize-inPage)
		pg := s.lookup(i)
		if pg == nil && !isZero(p[:n]) {
			pg = s.create(i)
		}
		if pg != nil {
			copy(pg[inPage:], p[:n])
		}
		p, off = p[n:], off+int64(n)
	}
}

// zero makes [off, off+length) read as zeroes, dropping the pages it covers whole.
func (s *sparseStore) zero(off, length int64) {
	if length <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end := uint64(off) + uint64(length) // at most 2⁶⁴-2: no overflow
	if end >= maxOffset {
		end = maxOffset + 1 // the last page, whole: its last byte is past any disk
	}
	for i := uint64(off) >> pageShift; ; i++ {
		var pg *page
		if i, pg = s.seek(i, (end+pageSize-1)>>pageShift); pg == nil {
			return
		}
		pageStart := i << pageShift
		from, to := max(pageStart, uint64(off)), min(pageStart+pageSize, end)
		if from == pageStart && to == pageStart+pageSize {
			s.drop(i)
			continue
		}
		clear(pg[from-pageStart : to-pageStart])
	}
}

// drop removes page i, which exists. The caller holds s.mu exclusively.
func (s *sparseStore) drop(i uint64) {
	n := s.root
	for level := levels - 1; level > 0; level-- {
		n = n.kids[slot(i, level)]
	}
	n.pages[slot(i, 0)] = nil
	s.count--
}

// scan calls f for the consecutive pieces of [off, off+length) in order: for a piece
// of a page that exists, with its bytes (which f must not keep or modify); for a run of
// pages that do not exist, with nil. It stops at the first error f returns. The
// store is read-locked meanwhile, so f must not write to it.
func (s *sparseStore) scan(off, length int64, f func(off int64, b []byte, length int64) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	end := off + length
	for off < end {
		i, pg := s.seek(uint64(off)>>pageShift, uint64(end-1)>>pageShift+1)
		if pg == nil {
			return f(off, nil, end-off)
		}
		if pageStart := int64(i) << pageShift; pageStart > off {
			if err := f(off, nil, pageStart-off); err != nil {
				return err
			}
			off = pageStart
		}
		inPage := int(off & (pageSize - 1))
		n := min(end-off, int64(pageSize-inPage))
		if err := f(off, pg[inPage:inPage+int(n)], n); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// extents reports [off, off+length): pages that do not exist as holes that read as
// zeroes, pages that hold only zeroes as zeroes, and the others as data, as nbdkit's
// sparse allocator does.
func (s *sparseStore) extents(off, length int64, e *server.ExtentList) error {
	return s.scan(off, length, func(off int64, b []byte, n int64) error {
		switch {
		case b == nil:
			return e.Add(off, n, server.ExtentHole|server.ExtentZero)
		case isZero(b):
			return e.Add(off, n, server.ExtentZero)
		}
		return e.Add(off, n, server.ExtentData)
	})
}

// pages returns how many pages exist, for tests.
func (s *sparseStore) pages() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.count
}

// isZero reports whether b holds only zeroes.
func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), pageSize)
		if !bytes.Equal(b[:n], zeroPage[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
