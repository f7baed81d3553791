package file

import (
	"os"
	"sync"
	"unsafe"
)

// directAlign is the alignment O_DIRECT transfers keep, of their offset, length and
// memory. Every file system and disk gonbd is likely to meet needs at most 4096, so
// the plugin does not ask (statx's STATX_DIOALIGN is too recent to rely on).
const directAlign = 4096

// bounceSize is the size of the aligned buffers that unaligned requests go through,
// in as many passes as they need.
const bounceSize = 1 << 20

// directIO serves a connection's reads and writes with cache=none: through a
// descriptor opened with O_DIRECT, so that the data bypasses the page cache.
//
// O_DIRECT transfers must be aligned. A request that is not (its offset, its length
// or its buffer) goes through an aligned buffer from a pool; a write that covers
// blocks partly reads them first (read-modify-write), holding the edge locks of the
// blocks it shares with other requests so that two writes to different bytes of one
// block do not undo each other. The last block of a file whose size is not aligned
// cannot be written with O_DIRECT without growing the file, so that partial block goes
// through the ordinary descriptor: the two never touch the same block.
type directIO struct {
	direct *os.File // opened with O_DIRECT
	cached *os.File // the connection's ordinary descriptor
	// limit is where the direct part of the file ends: its size rounded down to
	// directAlign.
	limit   int64
	buffers *bouncePool
	edges   *edgeLocks
}

func alignDown(n int64) int64 { return n &^ (directAlign - 1) }
func alignUp(n int64) int64   { return alignDown(n + directAlign - 1) }
func isAligned(n int64) bool  { return n&(directAlign-1) == 0 }

// alignedTransfer reports whether p at off can go to an O_DIRECT descriptor as it is.
func alignedTransfer(p []byte, off int64) bool {
	return isAligned(off) && isAligned(int64(len(p))) &&
		isAligned(int64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))))
}

func (d *directIO) readAt(p []byte, off int64) error {
	if off < d.limit {
		n := min(int64(len(p)), d.limit-off)
		if err := d.readDirect(p[:n], off); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	if len(p) == 0 {
		return nil
	}
	return readFull(d.cached, p, off)
}

func (d *directIO) writeAt(p []byte, off int64) error {
	if off < d.limit {
		n := min(int64(len(p)), d.limit-off)
		if err := d.writeDirect(p[:n], off); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	if len(p) == 0 {
		return nil
	}
	return writeFull(d.cached, p, off)
}

// readDirect reads p at off, which lie below limit.
func (d *directIO) readDirect(p []byte, off int64) error {
	if alignedTransfer(p, off) {
		return readFull(d.direct, p, off)
	}
	bufp := d.buffers.get()
	defer d.buffers.put(bufp)
	buf := *bufp
	for len(p) > 0 {
		// Below limit, which is aligned, the aligned span around p exists whole.
		start := alignDown(off)
		end := min(alignUp(off+int64(len(p))), start+bounceSize)
		span := buf[:end-start]
		if err := readFull(d.direct, span, start); err != nil {
			return err
		}
		n := copy(p, span[off-start:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// writeDirect writes p at off, which lie below limit.
func (d *directIO) writeDirect(p []byte, off int64) error {
	if alignedTransfer(p, off) {
		return writeFull(d.direct, p, off)
	}
	locked := d.edges.lock(off, int64(len(p)))
	defer d.edges.unlock(locked)
	bufp := d.buffers.get()
	defer d.buffers.put(bufp)
	buf := *bufp
	for len(p) > 0 {
		start := alignDown(off)
		end := min(alignUp(off+int64(len(p))), start+bounceSize)
		span := buf[:end-start]
		// Read the blocks p covers only in part: the first when p starts inside it,
		// the last when p ends inside it (once when they are the same block).
		if off != start {
			if err := readFull(d.direct, span[:directAlign], start); err != nil {
				return err
			}
		}
		if tail := end - directAlign; off+int64(len(p)) < end && (tail != start || off == start) {
			if err := readFull(d.direct, span[tail-start:], tail); err != nil {
				return err
			}
		}
		n := copy(span[off-start:], p)
		if err := writeFull(d.direct, span, start); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (d *directIO) close() error { return d.direct.Close() }

// bouncePool holds aligned buffers of bounceSize bytes, as *[]byte so that putting one
// back does not allocate.
type bouncePool struct{ pool sync.Pool }

func newBouncePool() *bouncePool {
	return &bouncePool{pool: sync.Pool{New: func() any {
		raw := make([]byte, bounceSize+directAlign)
		skip := (directAlign - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%directAlign) % directAlign
		buf := raw[skip : skip+bounceSize : skip+bounceSize]
		return &buf
	}}}
}

func (b *bouncePool) get() *[]byte  { return b.pool.Get().(*[]byte) }
func (b *bouncePool) put(p *[]byte) { b.pool.Put(p) }

// edgeLocks serialise the requests that change part of an aligned block, so that a
// read-modify-write of the block does not undo another request's change to the rest
// of it. A request holds the locks of its first and last blocks when it covers them
// only in part; the blocks it covers whole are its own (a request overlapping them
// overlaps it, and NBD leaves the result of overlapping writes unspecified). Blocks
// share a fixed set of locks by number, so that the set stays small; unrelated
// blocks sharing a lock only wait for each other. One set serves every connection
// to every file of the plugin.
type edgeLocks struct {
	mu [64]sync.Mutex
}

// lockedEdges records which locks a request holds; -1 means none.
type lockedEdges struct{ first, second int }

// lock takes the locks of the blocks [off, off+length) covers in part, in ascending
// order so that two requests never wait for each other crosswise.
func (l *edgeLocks) lock(off, length int64) lockedEdges {
	held := lockedEdges{-1, -1}
	end := off + length
	if !isAligned(off) {
		held.first = l.index(off)
	}
	if !isAligned(end) {
		if i := l.index(end - 1); i != held.first {
			held.second = i
		}
	}
	if held.first > held.second {
		held.first, held.second = held.second, held.first
	}
	for _, i := range [2]int{held.first, held.second} {
		if i >= 0 {
			l.mu[i].Lock()
		}
	}
	return held
}

func (l *edgeLocks) unlock(held lockedEdges) {
	for _, i := range [2]int{held.first, held.second} {
		if i >= 0 {
			l.mu[i].Unlock()
		}
	}
}

func (l *edgeLocks) index(off int64) int {
	return int(uint64(off/directAlign) % uint64(len(l.mu)))
}
