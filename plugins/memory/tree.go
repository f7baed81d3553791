package memory

import (
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// A pageTree finds the pages of a disk by their index, for the sparse and zstd
// allocators: a radix tree as deep as the disk needs and no deeper. A leaf holds
// nodeFanout page slots, each level above multiplies the span by nodeFanout, and the
// root has only as many entries as the disk reaches. Only the paths to pages that exist
// have nodes. Nodes are never removed, which bounds their overhead by the area ever
// written (one 32 KiB node per 128 MiB region touched), not by the disk's size.
//
// Tree links and page slots are atomic pointers, so finding a page takes no lock; the
// allocators guard what a slot points to with their stripe locks.
type pageTree[P any] struct {
	// depth is the number of interior levels above the leaves; 0 when the root is
	// itself the only leaf.
	depth int
	root  *node[P]
}

const (
	// levelBits is the number of page-index bits each tree level resolves.
	levelBits  = 12
	nodeFanout = 1 << levelBits
	levelMask  = nodeFanout - 1
)

// A node is an interior node (children set) or a leaf (pages set) of the page tree.
type node[P any] struct {
	children []atomic.Pointer[node[P]]
	pages    []atomic.Pointer[P]
}

// newPageTree returns an empty tree for a disk of size bytes.
func newPageTree[P any](size int64) pageTree[P] {
	pages := (uint64(size) + pageMask) >> pageShift
	depth := 0
	for span := uint64(nodeFanout); span < pages; span <<= levelBits {
		depth++
	}
	// The root covers the disk exactly; every node below it is full-sized.
	rootEntries := int((pages + (1<<(depth*levelBits) - 1)) >> (depth * levelBits))
	root := &node[P]{}
	if depth == 0 {
		root.pages = make([]atomic.Pointer[P], rootEntries)
	} else {
		root.children = make([]atomic.Pointer[node[P]], rootEntries)
	}
	return pageTree[P]{depth: depth, root: root}
}

// leaf returns the leaf holding page i. If a node on the way does not exist, it returns
// nil and the index of the first page after the missing node's span, so that callers
// can skip the whole hole at once.
func (t *pageTree[P]) leaf(i uint64) (leaf *node[P], holeEnd uint64) {
	n := t.root
	for level := t.depth; level > 0; level-- {
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
func (t *pageTree[P]) leafForWrite(i uint64) *node[P] {
	n := t.root
	for level := t.depth; level > 0; level-- {
		slot := &n.children[(i>>(level*levelBits))&levelMask]
		child := slot.Load()
		if child == nil {
			fresh := &node[P]{}
			if level == 1 {
				fresh.pages = make([]atomic.Pointer[P], nodeFanout)
			} else {
				fresh.children = make([]atomic.Pointer[node[P]], nodeFanout)
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

// extents reports pages that exist as data and the rest as holes that read as zeroes.
func (t *pageTree[P]) extents(off, length int64, flags server.Flags, e *server.ExtentList) error {
	const hole = server.ExtentHole | server.ExtentZero
	end := uint64(off) + uint64(length)
	first := true
	var firstType server.ExtentType
	for pos := uint64(off); pos < end; {
		i := pos >> pageShift
		var next uint64
		var typ server.ExtentType
		if leaf, holeEnd := t.leaf(i); leaf == nil {
			next, typ = min(holeEnd<<pageShift, end), hole
		} else {
			// No lock: the answer is a snapshot either way, as the page may
			// change as soon as the reply is sent.
			next = min((i+1)<<pageShift, end)
			if leaf.pages[i&levelMask].Load() == nil {
				typ = hole
			} else {
				typ = server.ExtentData
			}
		}
		if first {
			first, firstType = false, typ
		} else if flags&server.FlagReqOne != 0 && typ != firstType {
			break // the first extent is complete
		}
		// The list merges neighbours of one type, so adding page by page still
		// gives one extent per run.
		if err := e.Add(int64(pos), int64(next-pos), typ); err != nil {
			return err
		}
		pos = next
	}
	return nil
}
