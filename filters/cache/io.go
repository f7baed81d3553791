package cache

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// ReadAt serves cached blocks from the cache file and the others from the next layer,
// keeping them in the cache with cache-on-read.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if len(p) == 0 {
		return nil
	}
	s := h.store
	bs := s.blockSize
	onRead := h.filter.opts.OnRead.Active()
	grew := false
	first, last := h.blocks(off, int64(len(p)))
	for b := first; b <= last; {
		cached, n := s.run(b, last)
		start, end := max(off, b*bs), min(off+int64(len(p)), (b+n)*bs)
		dst := p[start-off : end-off]
		var err error
		switch {
		case cached:
			err = h.readCached(ctx, dst, start, b, b+n-1)
		case onRead:
			var g bool
			g, err = h.readFilling(ctx, dst, start, b, b+n-1)
			grew = grew || g
		default:
			// Absent blocks are current in the next layer, which can serve the whole
			// run at once.
			err = h.Next.ReadAt(ctx, dst, start, 0)
		}
		if err != nil {
			return err
		}
		b += n
	}
	if grew {
		h.reclaim(ctx)
	}
	return nil
}

// readCached fills dst, the part of blocks [first, last] at off, from the cache. Each
// block is read under its lock, and from the next layer if it was dropped meanwhile.
func (h *handle) readCached(ctx context.Context, dst []byte, off, first, last int64) error {
	s := h.store
	bs := s.blockSize
	for b := first; b <= last; b++ {
		start, end := max(off, b*bs), min(off+int64(len(dst)), (b+1)*bs)
		part := dst[start-off : end-off]
		s.rlock(b)
		var err error
		if s.state(b) != absent {
			err = s.readFile(part, start)
		} else {
			err = h.Next.ReadAt(ctx, part, start, 0)
		}
		s.runlock(b)
		if err != nil {
			return err
		}
	}
	return nil
}

// readFilling fills dst, the part of blocks [first, last] at off, putting each block
// in the cache on the way.
func (h *handle) readFilling(ctx context.Context, dst []byte, off, first, last int64) (grew bool, err error) {
	bs := h.store.blockSize
	bufp := h.getBlock()
	defer h.putBlock(bufp)
	for b := first; b <= last; b++ {
		g, err := h.fill(ctx, b, *bufp)
		grew = grew || g
		if err != nil {
			return grew, err
		}
		start, end := max(off, b*bs), min(off+int64(len(dst)), (b+1)*bs)
		copy(dst[start-off:end-off], (*bufp)[start-b*bs:end-b*bs])
	}
	return grew, nil
}

// fill puts block b in the cache unless it is there, and leaves its contents in buf.
// It reports whether the cache grew.
func (h *handle) fill(ctx context.Context, b int64, buf []byte) (grew bool, err error) {
	s := h.store
	s.lock(b)
	defer s.unlock(b)
	buf = buf[:s.blockLen(b)]
	if s.state(b) != absent {
		return false, s.readFile(buf, b*s.blockSize)
	}
	if err := h.Next.ReadAt(ctx, buf, b*s.blockSize, 0); err != nil {
		return false, err
	}
	if err := s.writeFile(b, buf); err != nil {
		return false, err
	}
	return s.setState(b, clean), nil
}

// loadBlock fills buf (blockLen(b) bytes) with the current contents of block b; the
// block is locked.
func (h *handle) loadBlock(ctx context.Context, b int64, buf []byte) error {
	s := h.store
	if s.state(b) != absent {
		return s.readFile(buf, b*s.blockSize)
	}
	return h.Next.ReadAt(ctx, buf, b*s.blockSize, 0)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if len(p) == 0 {
		return nil
	}
	return h.change(ctx, p, off, int64(len(p)), flags)
}

// Zero writes zeroes, through the cache like any write: the range reads as zeroes from
// the cache at once, and reaches the next layer when writes do.
func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if length == 0 {
		return nil
	}
	return h.change(ctx, nil, off, length, flags)
}

// throughNow says whether a change with flags goes to the next layer at once.
func (h *handle) throughNow(flags server.Flags) bool {
	switch h.filter.opts.Mode {
	case Writethrough:
		return true
	case Writeback:
		return flags&server.FlagFUA != 0
	}
	return false // Unsafe ignores FUA
}

// change writes p (zeroes when p is nil) at [off, off+length), block by block under
// each block's lock. Changes that go through now are made to the next layer first, so
// that a failure leaves the cache as it was; the cache then keeps a copy of the
// blocks it already had or that the change covers whole. Changes that wait for a
// flush are made to the cache alone, and mark the blocks dirty.
func (h *handle) change(ctx context.Context, p []byte, off, length int64, flags server.Flags) error {
	s := h.store
	bs := s.blockSize
	through := h.throughNow(flags)
	nextFlags := server.Flags(0)
	if through && flags&server.FlagFUA != 0 && h.nextCaps.FUA != server.FUANone {
		nextFlags = server.FlagFUA
	}
	var bufp *[]byte
	defer func() {
		if bufp != nil {
			h.putBlock(bufp)
		}
	}()
	grew := false
	first, last := h.blocks(off, length)
	for b := first; b <= last; b++ {
		start, end := max(off, b*bs), min(off+length, (b+1)*bs)
		var piece []byte // nil for zeroes
		if p != nil {
			piece = p[start-off : end-off]
		}
		g, err := h.changeBlock(ctx, b, start, end, piece, through, nextFlags, &bufp)
		grew = grew || g
		if err != nil {
			return err
		}
	}
	if through && flags&server.FlagFUA != 0 && h.nextCaps.FUA == server.FUANone && h.nextCaps.Flush {
		if err := h.Next.Flush(ctx, 0); err != nil {
			return err
		}
	}
	if grew {
		h.reclaim(ctx)
	}
	return nil
}

// changeBlock is one block of change: [start, end) of block b becomes piece, or
// zeroes when piece is nil. *bufp is a block buffer, taken from the pool when needed.
func (h *handle) changeBlock(ctx context.Context, b, start, end int64, piece []byte,
	through bool, nextFlags server.Flags, bufp **[]byte) (grew bool, err error) {
	s := h.store
	bs := s.blockSize
	s.lock(b)
	defer s.unlock(b)
	if through {
		if piece == nil {
			err = h.Next.Zero(ctx, start, end-start, nextFlags)
		} else {
			err = h.Next.WriteAt(ctx, piece, start, nextFlags)
		}
		if err != nil {
			return false, err
		}
	}
	old := s.state(b)
	whole := start == b*bs && end == b*bs+s.blockLen(b)
	var data []byte
	switch {
	case whole && piece != nil:
		data = piece
	case whole:
		data = h.filter.zeroBlock[:end-start]
	case old == absent && through:
		// The next layer has the change and the cache had nothing of the block:
		// reading it just to cache it would cost more than it saves.
		return false, nil
	default:
		if *bufp == nil {
			*bufp = h.getBlock()
		}
		data = (**bufp)[:s.blockLen(b)]
		if err := h.loadBlock(ctx, b, data); err != nil {
			return false, err
		}
		if piece != nil {
			copy(data[start-b*bs:], piece)
		} else {
			clear(data[start-b*bs : end-b*bs])
		}
	}
	if err := s.writeFile(b, data); err != nil {
		if through && old != dirty {
			// The next layer has the data; forget the cache's stale copy.
			s.drop(b)
		}
		return false, err
	}
	next := dirty
	if through && (whole || old != dirty) {
		next = clean
	}
	return s.setState(b, next), nil
}

// Trim passes the trim on, then drops the blocks it covers whole from the cache: a
// trimmed range may read as anything, and the next layer's answer is as good as the
// cache's. Partially covered blocks stay as they are.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.Next.Trim(ctx, off, length, flags); err != nil {
		return err
	}
	if length == 0 {
		return nil
	}
	s := h.store
	first, last := h.blocks(off, length)
	for b := first; b <= last; b++ {
		if off > b*s.blockSize || off+length < b*s.blockSize+s.blockLen(b) {
			continue
		}
		s.lock(b)
		if s.state(b) != absent {
			s.drop(b)
		}
		s.unlock(b)
	}
	return nil
}

// Flush writes the dirty blocks back to the next layer and flushes it, except in
// unsafe mode, which ignores flushes.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	if h.filter.opts.Mode == Unsafe {
		return nil
	}
	if err := h.writeBackAll(ctx); err != nil {
		return err
	}
	if !h.nextCaps.Flush {
		return nil
	}
	return h.Next.Flush(ctx, 0)
}

// writeBackAll writes every dirty block back to the next layer.
func (h *handle) writeBackAll(ctx context.Context) error {
	s := h.store
	if _, dirtyBlocks := s.counts(); dirtyBlocks == 0 {
		return nil
	}
	bufp := h.getBlock()
	defer h.putBlock(bufp)
	last := int64(len(s.states)) - 1
	for b := int64(0); b <= last; {
		isDirty, n := s.dirtyRun(b, last)
		if isDirty {
			for i := b; i < b+n; i++ {
				if err := h.writeBack(ctx, i, *bufp); err != nil {
					return err
				}
			}
		}
		b += n
	}
	return nil
}

// writeBack writes block b to the next layer if it is dirty, and marks it clean.
func (h *handle) writeBack(ctx context.Context, b int64, buf []byte) error {
	s := h.store
	s.lock(b)
	defer s.unlock(b)
	return h.writeBackLocked(ctx, b, buf)
}

// writeBackLocked is writeBack with the block locked.
func (h *handle) writeBackLocked(ctx context.Context, b int64, buf []byte) error {
	s := h.store
	if s.state(b) != dirty {
		return nil
	}
	buf = buf[:s.blockLen(b)]
	if err := s.readFile(buf, b*s.blockSize); err != nil {
		return err
	}
	if err := h.Next.WriteAt(ctx, buf, b*s.blockSize, 0); err != nil {
		return err
	}
	s.setState(b, clean)
	return nil
}

// Cache puts the blocks of the range in the cache.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if length == 0 {
		return nil
	}
	bufp := h.getBlock()
	defer h.putBlock(bufp)
	grew := false
	first, last := h.blocks(off, length)
	for b := first; b <= last; b++ {
		g, err := h.fill(ctx, b, *bufp)
		grew = grew || g
		if err != nil {
			return err
		}
		if grew && h.store.limit {
			// Reclaim as the range goes in, so that a large prefetch does not push
			// the cache far past its limit first.
			h.reclaim(ctx)
			grew = false
		}
	}
	if grew {
		h.reclaim(ctx)
	}
	return nil
}

// Extents reports dirty blocks as data, which the next layer does not know about yet,
// and asks the next layer about the rest.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if length == 0 {
		return nil
	}
	s := h.store
	bs := s.blockSize
	first, last := h.blocks(off, length)
	for b := first; b <= last; {
		isDirty, n := s.dirtyRun(b, last)
		start, end := max(off, b*bs), min(off+length, (b+n)*bs)
		if isDirty {
			if err := e.Add(start, end-start, server.ExtentData); err != nil {
				return err
			}
		} else if complete, err := h.nextExtents(ctx, start, end-start, flags, e); err != nil || !complete {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			return nil
		}
		b += n
	}
	return nil
}

// nextExtents adds the next layer's extents of [off, off+length) to e, and reports
// whether they covered the range: e cannot go on past a gap, and a short answer is
// allowed.
func (h *handle) nextExtents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) (bool, error) {
	if !h.nextCaps.Extents {
		return true, e.Add(off, length, server.ExtentData)
	}
	inner := h.filter.extentLists.Get().(*server.ExtentList)
	defer h.filter.extentLists.Put(inner)
	inner.Reset(off, off+length)
	if err := h.Next.Extents(ctx, off, length, flags, inner); err != nil {
		return false, err
	}
	covered := off
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset, x.Length, x.Type); err != nil {
			return false, err
		}
		covered = x.Offset + x.Length
	}
	return covered >= off+length, nil
}
