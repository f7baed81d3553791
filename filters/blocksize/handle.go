package blocksize

import (
	"context"
	"fmt"
	"math"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

type handle struct {
	server.PassThroughHandle
	f *filter

	// Set by Prepare.
	minBlock, maxData, maxLen int64
	size                      int64 // next's, rounded down to minBlock
	next                      server.BlockSize
	emulatedFUA               bool // next turns FUA into a flush: do it once per request
}

// Prepare settles the limits, which default to next's constraints.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	opts := h.f.opts
	h.minBlock = int64(max(opts.MinBlock, bs.Minimum, 1))
	h.maxData = int64(opts.MaxData)
	if h.maxData == 0 {
		h.maxData = defaultMaxData
		if bs.Maximum != 0 {
			h.maxData = min(h.maxData, int64(bs.Maximum))
		}
	}
	h.maxLen = int64(opts.MaxLen)
	if h.maxLen == 0 {
		h.maxLen = math.MaxUint32
	}
	h.maxData = h.maxData / h.minBlock * h.minBlock
	h.maxLen = h.maxLen / h.minBlock * h.minBlock
	if h.maxData == 0 || h.maxLen == 0 {
		return server.Errorf(syscall.EINVAL, "blocksize: maxdata (%d) and maxlen (%d) must be at least minblock (%d)",
			opts.MaxData, opts.MaxLen, h.minBlock)
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	h.size = size / h.minBlock * h.minBlock
	h.next = bs
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return err
	}
	h.emulatedFUA = c.FUA == server.FUAEmulate
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

// BlockSize advertises that anything goes (minimum 1), while keeping next's preferred
// size or the block size, whichever is larger, as nbdkit does.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	preferred := uint32(max(4096, h.minBlock))
	if h.next.Preferred != 0 {
		preferred = max(h.next.Preferred, uint32(h.minBlock))
	}
	return server.BlockSize{Minimum: 1, Preferred: preferred, Maximum: math.MaxUint32}, nil
}

// fuaFlags returns the flags for the pieces of a request, and whether to flush after
// the last: when next emulates FUA with a flush, one flush serves all the pieces.
func (h *handle) fuaFlags(flags server.Flags) (server.Flags, bool) {
	if flags&server.FlagFUA != 0 && h.emulatedFUA {
		return flags &^ server.FlagFUA, true
	}
	return flags, false
}

func (h *handle) flushIf(ctx context.Context, flush bool) error {
	if !flush {
		return nil
	}
	return h.Next.Flush(ctx, 0)
}

// down and up align an offset to the block.
func (h *handle) down(off int64) int64 { return off / h.minBlock * h.minBlock }
func (h *handle) up(off int64) int64   { return h.down(off + h.minBlock - 1) }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	for len(p) > 0 {
		if off%h.minBlock != 0 || int64(len(p)) < h.minBlock {
			n, err := h.readPartial(ctx, p, off)
			if err != nil {
				return err
			}
			p, off = p[n:], off+n
			continue
		}
		n := min(int64(len(p))/h.minBlock*h.minBlock, h.maxData)
		if err := h.Next.ReadAt(ctx, p[:n], off, flags); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// readPartial reads the block holding off and copies what p wants of it; it returns how
// many bytes it copied.
func (h *handle) readPartial(ctx context.Context, p []byte, off int64) (int64, error) {
	start := h.down(off)
	h.f.rmw.Lock()
	defer h.f.rmw.Unlock()
	block := h.f.bounce[:h.minBlock]
	if err := h.Next.ReadAt(ctx, block, start, 0); err != nil {
		return 0, err
	}
	return int64(copy(p, block[off-start:])), nil
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	flags, flush := h.fuaFlags(flags)
	for len(p) > 0 {
		if off%h.minBlock != 0 || int64(len(p)) < h.minBlock {
			n, err := h.modify(ctx, p, off, int64(len(p)), flags)
			if err != nil {
				return err
			}
			p, off = p[n:], off+n
			continue
		}
		n := min(int64(len(p))/h.minBlock*h.minBlock, h.maxData)
		if err := h.Next.WriteAt(ctx, p[:n], off, flags); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return h.flushIf(ctx, flush)
}

// modify reads the block holding off, puts into it the bytes of data (nil: zeroes)
// that fall in it, up to length, and writes it back. It returns how many bytes of the
// request it covered.
func (h *handle) modify(ctx context.Context, data []byte, off, length int64, flags server.Flags) (int64, error) {
	start := h.down(off)
	h.f.rmw.Lock()
	defer h.f.rmw.Unlock()
	block := h.f.bounce[:h.minBlock]
	if err := h.Next.ReadAt(ctx, block, start, 0); err != nil {
		return 0, err
	}
	part := block[off-start:][:min(length, h.minBlock-(off-start))]
	if data != nil {
		copy(part, data)
	} else {
		clear(part)
	}
	if err := h.Next.WriteAt(ctx, block, start, flags&server.FlagFUA); err != nil {
		return 0, err
	}
	return int64(len(part)), nil
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if flags&server.FlagFastZero != 0 && (off%h.minBlock != 0 || length%h.minBlock != 0) {
		return server.Errorf(syscall.ENOTSUP, "blocksize: fast zero refused: the unaligned ends need read-modify-write")
	}
	flags, flush := h.fuaFlags(flags)
	for length > 0 {
		if off%h.minBlock != 0 || length < h.minBlock {
			n, err := h.modify(ctx, nil, off, length, flags)
			if err != nil {
				return err
			}
			off, length = off+n, length-n
			continue
		}
		n := min(length/h.minBlock*h.minBlock, h.maxLen)
		if err := h.Next.Zero(ctx, off, n, flags); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return h.flushIf(ctx, flush)
}

// Trim trims the blocks the range covers whole: the client cannot rely on trimmed data
// anyway, so the unaligned ends are left alone.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	flags, flush := h.fuaFlags(flags)
	start, end := h.up(off), h.down(off+length)
	for start < end {
		n := min(end-start, h.maxLen)
		if err := h.Next.Trim(ctx, start, n, flags); err != nil {
			return err
		}
		start += n
	}
	return h.flushIf(ctx, flush)
}

// Cache caches the blocks the range touches.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	start, end := h.down(off), min(h.up(off+length), h.size)
	for start < end {
		n := min(end-start, h.maxLen)
		if err := h.Next.Cache(ctx, start, n, flags); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// Extents asks next about the blocks the range touches, at most maxLen bytes of them;
// e keeps only what lies within the range.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	start := h.down(off)
	end := min(h.up(off+length), h.size, start+h.maxLen)
	if end <= start {
		return fmt.Errorf("blocksize: extents of %d bytes at %d lie past the aligned size %d", length, off, h.size)
	}
	return h.Next.Extents(ctx, start, end-start, flags, e)
}
