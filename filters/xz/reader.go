package xz

import (
	"context"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// maxRead bounds one read from the next layer, whatever its own maximum.
const maxRead = 32 << 20

// reader reads the compressed data from the next layer, meeting its block size
// constraints: reads aligned to its minimum and no larger than its maximum.
type reader struct {
	h     server.LayerHandle
	size  int64
	align int64
	chunk int64 // the largest read, a multiple of align
}

func newReader(ctx context.Context, h server.LayerHandle) (*reader, error) {
	size, err := h.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the size of the compressed data: %w", err)
	}
	bs, err := h.BlockSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the block size of the compressed data: %w", err)
	}
	r := &reader{h: h, size: size, align: max(int64(bs.Minimum), 1), chunk: maxRead}
	if bs.Maximum != 0 {
		r.chunk = min(r.chunk, int64(bs.Maximum)/r.align*r.align)
	}
	return r, nil
}

// readAt reads len(p) bytes at off.
func (r *reader) readAt(ctx context.Context, p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > r.size {
		return server.Errorf(syscall.EIO, "the compressed data ends at %d, before %d: the file is truncated",
			r.size, off+int64(len(p)))
	}
	for len(p) > 0 {
		start := off - off%r.align
		end := min(start+r.chunk, (off+int64(len(p))+r.align-1)/r.align*r.align, r.size)
		if start == off && end <= off+int64(len(p)) {
			if err := r.h.ReadAt(ctx, p[:end-start], start, 0); err != nil {
				return fmt.Errorf("reading the compressed data at offset %d: %w", start, err)
			}
			p, off = p[end-start:], end
			continue
		}
		// An unaligned piece: read the aligned range around it.
		buf := make([]byte, end-start)
		if err := r.h.ReadAt(ctx, buf, start, 0); err != nil {
			return fmt.Errorf("reading the compressed data at offset %d: %w", start, err)
		}
		n := copy(p, buf[off-start:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}
