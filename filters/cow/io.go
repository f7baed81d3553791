package cow

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// ReadAt merges the overlay and the next layer: runs of blocks in one state are read
// with one call, from the file (changed blocks), from nowhere (zeroed blocks) or from
// the next layer (unchanged blocks, copied into the overlay first with cow-on-read).
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if len(p) == 0 {
		return nil
	}
	o := h.overlay
	bs := o.blockSize
	onRead := h.filter.opts.OnRead.Active()
	first, last := h.blocks(off, int64(len(p)))
	for b := first; b <= last; {
		state, n := o.run(b, last)
		// The part of p that blocks [b, b+n) cover.
		start, end := max(off, b*bs), min(off+int64(len(p)), (b+n)*bs)
		dst := p[start-off : end-off]
		var err error
		switch {
		case state == allocated:
			err = o.readFile(dst, start)
		case state == zeroed:
			clear(dst)
		case onRead:
			err = h.readCopyingUp(ctx, dst, start, b, b+n-1)
		default:
			err = h.Next.ReadAt(ctx, dst, start, 0)
		}
		if err != nil {
			return err
		}
		b += n
	}
	return nil
}

// readCopyingUp fills dst, the part of blocks [first, last] at off, copying each block
// into the overlay on the way.
func (h *handle) readCopyingUp(ctx context.Context, dst []byte, off, first, last int64) error {
	bs := h.overlay.blockSize
	bufp := h.getBlock()
	defer h.putBlock(bufp)
	for b := first; b <= last; b++ {
		if err := h.copyUp(ctx, b, *bufp); err != nil {
			return err
		}
		start, end := max(off, b*bs), min(off+int64(len(dst)), (b+1)*bs)
		copy(dst[start-off:end-off], (*bufp)[start-b*bs:end-b*bs])
	}
	return nil
}

// WriteAt writes p into the overlay, block by block. Whole blocks are written as they
// are; partial ones are read, patched and written back under the block's lock.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if len(p) == 0 {
		return nil
	}
	return h.eachBlock(ctx, off, int64(len(p)), func(b, start, end int64, whole bool, buf []byte) error {
		src := p[start-off : end-off]
		if whole {
			return h.overlay.writeBlock(b, src)
		}
		copy(buf[start-b*h.overlay.blockSize:], src)
		return h.overlay.writeBlock(b, buf)
	})
}

// Zero marks the whole blocks of the range as zeroes, without reading anything, and
// zeroes the partial ones by read-modify-write.
func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if length == 0 {
		return nil
	}
	return h.eachBlock(ctx, off, length, func(b, start, end int64, whole bool, buf []byte) error {
		if whole {
			h.overlay.zeroBlock(b)
			return nil
		}
		bs := h.overlay.blockSize
		clear(buf[start-b*bs : end-b*bs])
		return h.overlay.writeBlock(b, buf)
	})
}

// Trim zeroes the whole blocks of the range; the partial ones are left as they are,
// which a trim allows (the client may not rely on what trimmed data reads as).
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if length == 0 {
		return nil
	}
	o := h.overlay
	first, last := h.blocks(off, length)
	for b := first; b <= last; b++ {
		if off > b*o.blockSize || off+length < b*o.blockSize+o.blockLen(b) {
			continue
		}
		o.lock(b)
		o.zeroBlock(b)
		o.unlock(b)
	}
	return nil
}

// eachBlock calls change for each block that [off, off+length) touches, with the
// block locked: b is the block, [start, end) the part of the range in it, whole tells
// whether that is the whole block; otherwise buf holds the block's current contents
// (blockLen bytes), to patch and write back.
func (h *handle) eachBlock(ctx context.Context, off, length int64,
	change func(b, start, end int64, whole bool, buf []byte) error) error {
	o := h.overlay
	bs := o.blockSize
	var bufp *[]byte
	defer func() {
		if bufp != nil {
			h.putBlock(bufp)
		}
	}()
	first, last := h.blocks(off, length)
	for b := first; b <= last; b++ {
		start, end := max(off, b*bs), min(off+length, b*bs+bs)
		whole := start == b*bs && end == b*bs+o.blockLen(b)
		o.lock(b)
		var buf []byte
		if !whole {
			if bufp == nil {
				bufp = h.getBlock()
			}
			buf = (*bufp)[:o.blockLen(b)]
			if err := h.loadBlock(ctx, b, buf); err != nil {
				o.unlock(b)
				return err
			}
		}
		err := change(b, start, end, whole, buf)
		o.unlock(b)
		if err != nil {
			return err
		}
	}
	return nil
}

// Cache copies the unchanged blocks of the range into the overlay with cow-on-cache,
// and otherwise passes the request on for them when the next layer can prefetch.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if length == 0 {
		return nil
	}
	o := h.overlay
	bs := o.blockSize
	onCache := h.filter.opts.OnCache
	if !onCache && h.nextCaps.Cache == server.CacheNone {
		return nil
	}
	var bufp *[]byte
	if onCache {
		bufp = h.getBlock()
		defer h.putBlock(bufp)
	}
	first, last := h.blocks(off, length)
	for b := first; b <= last; {
		state, n := o.run(b, last)
		if state == unallocated {
			var err error
			if onCache {
				for i := b; i < b+n && err == nil; i++ {
					err = h.copyUp(ctx, i, *bufp)
				}
			} else {
				start, end := max(off, b*bs), min(off+length, (b+n)*bs)
				err = h.Next.Cache(ctx, start, end-start, 0)
			}
			if err != nil {
				return err
			}
		}
		b += n
	}
	return nil
}

// Extents reports changed blocks as data, zeroed blocks as holes reading as zeroes,
// and asks the next layer about the runs of unchanged blocks.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if length == 0 {
		return nil
	}
	o := h.overlay
	bs := o.blockSize
	first, last := h.blocks(off, length)
	for b := first; b <= last; {
		state, n := o.run(b, last)
		start, end := max(off, b*bs), min(off+length, (b+n)*bs)
		var err error
		switch state {
		case allocated:
			err = e.Add(start, end-start, server.ExtentData)
		case zeroed:
			err = e.Add(start, end-start, server.ExtentHole|server.ExtentZero)
		default:
			err = h.nextExtents(ctx, start, end-start, flags, e)
		}
		if err == errStopped {
			return nil
		}
		if err != nil {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			return nil
		}
		b += n
	}
	return nil
}

// nextExtents adds the next layer's extents of [off, off+length) to e. It returns
// errStopped when the next layer answered for less than the range: e cannot go on
// past a gap, and a short answer is allowed.
func (h *handle) nextExtents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if !h.nextCaps.Extents {
		return e.Add(off, length, server.ExtentData)
	}
	inner := h.filter.extentLists.Get().(*server.ExtentList)
	defer h.filter.extentLists.Put(inner)
	inner.Reset(off, off+length)
	if err := h.Next.Extents(ctx, off, length, flags, inner); err != nil {
		return err
	}
	covered := off
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset, x.Length, x.Type); err != nil {
			return err
		}
		covered = x.Offset + x.Length
	}
	if covered < off+length {
		return errStopped
	}
	return nil
}
