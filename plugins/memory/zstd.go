package memory

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
	"github.com/klauspost/compress/zstd"
)

// The zstd allocator is the sparse allocator with each page kept compressed: the same
// tree of 32 KiB pages, made on the first write of something other than zeroes and
// dropped when trim or zero leaves them all zeroes, but each page is a zstd frame. A
// read decompresses the pages it touches; a write decompresses a page, changes it and
// compresses it again. Disk images typically compress 2:1 or better, so the disk holds
// about twice what the sparse allocator would in the same memory, at the cost of the
// (de)compression.
//
// Concurrency is the sparse allocator's: finding a page takes no lock, and a page's
// stripe lock is held shared to decompress it and exclusively to replace it. The
// encoder and decoder are safe for concurrent use.
type zstdStore struct {
	size  int64
	tree  pageTree[zpage]
	locks *stripedLocks

	enc *zstd.Encoder
	dec *zstd.Decoder
	// pages holds *page buffers for decompressed pages; frames holds *[]byte for
	// compressed output before it is copied to its own slice of the right size.
	pages, frames sync.Pool

	// allocated counts the pages in existence, compressed the bytes their frames
	// take.
	allocated, compressed atomic.Int64
}

// A zpage is a compressed page: one zstd frame of pageSize bytes of data.
type zpage struct{ frame []byte }

// zstdLevel trades compression for speed: the fastest level still compresses disk
// images well, and every write pays for it.
const zstdLevel = zstd.SpeedFastest

func newZstdStore(size int64) (*zstdStore, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstdLevel),
		zstd.WithWindowSize(pageSize),
		zstd.WithEncoderCRC(false), // the frames never leave memory
		zstd.WithSingleSegment(true),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, fmt.Errorf("allocator=zstd: making the encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderMaxWindow(pageSize),
		zstd.WithDecoderMaxMemory(pageSize),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("allocator=zstd: making the decoder: %w", err)
	}
	s := &zstdStore{size: size, tree: newPageTree[zpage](size), locks: new(stripedLocks), enc: enc, dec: dec}
	s.pages.New = func() any { return new(page) }
	s.frames.New = func() any {
		b := make([]byte, 0, s.enc.MaxEncodedSize(pageSize))
		return &b
	}
	return s, nil
}

func (s *zstdStore) readAt(p []byte, off int64) {
	for len(p) > 0 {
		i, inPage, n := span(off, len(p))
		s.readPage(i, p[:n], inPage)
		p, off = p[n:], off+int64(n)
	}
}

func (s *zstdStore) readPage(i uint64, p []byte, inPage int) {
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
	buf := s.pages.Get().(*page)
	mu := s.locks.forBlock(i)
	mu.RLock()
	// Load again under the lock: a trim may have dropped the page since.
	zp := slot.Load()
	if zp != nil {
		s.decompress(zp, buf)
	}
	mu.RUnlock()
	if zp != nil {
		copy(p, buf[inPage:])
	} else {
		clear(p)
	}
	s.pages.Put(buf)
}

// decompress fills buf with page zp. The frames are the store's own, so a frame that
// does not decompress to a page is memory corruption, not bad input: it panics, which
// fails the request with EIO and logs the stack.
func (s *zstdStore) decompress(zp *zpage, buf *page) {
	out, err := s.dec.DecodeAll(zp.frame, buf[:0])
	if err != nil || len(out) != pageSize || &out[0] != &buf[0] {
		panic(fmt.Sprintf("allocator=zstd: a page does not decompress (%d bytes, %v)", len(out), err))
	}
}

func (s *zstdStore) writeAt(p []byte, off int64) {
	for len(p) > 0 {
		i, inPage, n := span(off, len(p))
		s.writePage(i, p[:n], inPage)
		p, off = p[n:], off+int64(n)
	}
}

func (s *zstdStore) writePage(i uint64, p []byte, inPage int) {
	leaf, _ := s.tree.leaf(i)
	if leaf == nil {
		if isZero(p) {
			return // it reads as zeroes already
		}
		leaf = s.tree.leafForWrite(i)
	}
	slot := &leaf.pages[i&levelMask]
	buf := s.pages.Get().(*page)
	mu := s.locks.forBlock(i)
	mu.Lock()
	if zp := slot.Load(); zp != nil {
		s.decompress(zp, buf)
	} else if isZero(p) {
		// Writing zeroes to a missing page changes nothing.
		mu.Unlock()
		s.pages.Put(buf)
		return
	} else {
		clear(buf[:])
	}
	copy(buf[inPage:], p)
	s.store(slot, buf)
	mu.Unlock()
	s.pages.Put(buf)
}

// store compresses buf into slot, or empties the slot when buf is all zeroes. The
// page's stripe lock is held exclusively.
func (s *zstdStore) store(slot *atomic.Pointer[zpage], buf *page) {
	old := slot.Load()
	if isZero(buf[:]) {
		if old != nil {
			slot.Store(nil)
			s.allocated.Add(-1)
			s.compressed.Add(-int64(len(old.frame)))
		}
		return
	}
	scratch := s.frames.Get().(*[]byte)
	out := s.enc.EncodeAll(buf[:], (*scratch)[:0])
	if old != nil && cap(old.frame) >= len(out) && cap(old.frame) <= 2*len(out) {
		// Nobody else can see the old frame while the lock is held exclusively:
		// reuse it when its size suits, sparing an allocation.
		s.compressed.Add(int64(len(out) - len(old.frame)))
		old.frame = append(old.frame[:0], out...)
	} else {
		fresh := &zpage{frame: append([]byte(nil), out...)}
		slot.Store(fresh)
		if old == nil {
			s.allocated.Add(1)
		} else {
			s.compressed.Add(-int64(len(old.frame)))
		}
		s.compressed.Add(int64(len(fresh.frame)))
	}
	*scratch = out[:0]
	s.frames.Put(scratch)
}

// zero makes [off, off+length) read as zeroes, dropping every page that ends up all
// zeroes, as the sparse allocator does.
func (s *zstdStore) zero(off, length int64) {
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

func (s *zstdStore) zeroPage(leaf *node[zpage], i uint64, inPage, n int) {
	slot := &leaf.pages[i&levelMask]
	if slot.Load() == nil {
		return
	}
	buf := s.pages.Get().(*page)
	mu := s.locks.forBlock(i)
	mu.Lock()
	if zp := slot.Load(); zp != nil {
		if n == pageSize {
			clear(buf[:])
		} else {
			s.decompress(zp, buf)
			clear(buf[inPage : inPage+n])
		}
		s.store(slot, buf)
	}
	mu.Unlock()
	s.pages.Put(buf)
}

func (s *zstdStore) extents(off, length int64, flags server.Flags, e *server.ExtentList) error {
	return s.tree.extents(off, length, flags, e)
}

func (s *zstdStore) allocatedPages() int64 { return s.allocated.Load() }

// stats returns how many pages exist and how many bytes their frames take.
func (s *zstdStore) stats() (pages, compressed int64) {
	return s.allocated.Load(), s.compressed.Load()
}

// release drops the pages and the codecs' buffers.
func (s *zstdStore) release() error {
	s.tree = pageTree[zpage]{root: &node[zpage]{}}
	s.allocated.Store(0)
	s.compressed.Store(0)
	s.dec.Close()
	return s.enc.Close()
}
