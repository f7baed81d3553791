package gzip

import (
	"context"
	"fmt"
	"io"

	"github.com/gonbd/gonbd/server"
)

// source reads the compressed stream from the next layer as an io.ByteReader, which
// the DEFLATE decoder needs in order to read no further than the end of a member (the
// gzip trailer follows it). It reads the next layer in chunks of len(buf) bytes, aligned
// to the next layer's minimum block size, and counts the offset of the next byte.
type source struct {
	ctx   context.Context
	h     server.LayerHandle
	size  int64  // of the compressed stream
	align int64  // the next layer's minimum request size, 1 when it has none
	chunk int64  // the largest read: len(buf), or less for the next layer's maximum
	buf   []byte // holds the bytes at [start, start+n)
	start int64  // offset of buf[0]
	pos   int    // next byte of buf to return
	n     int    // valid bytes in buf

	scratch []byte // for byteAt outside buf
}

// newSource returns a source with a buffer of bufSize bytes, a power of two of at
// least 64 KiB so that it is a multiple of any minimum block size.
func newSource(bufSize int) *source {
	return &source{buf: make([]byte, bufSize)}
}

// reset points s at offset off of the stream of size bytes read through h, whose
// block size constraints are bs.
func (s *source) reset(ctx context.Context, h server.LayerHandle, size, off int64, bs server.BlockSize) {
	s.ctx, s.h, s.size = ctx, h, size
	s.align, s.chunk = max(int64(bs.Minimum), 1), int64(len(s.buf))
	if bs.Maximum != 0 {
		s.chunk = max(min(s.chunk, int64(bs.Maximum)/s.align*s.align), s.align)
	}
	s.start, s.pos, s.n = off, 0, 0
}

// release drops the references to the connection s was reading for.
func (s *source) release() { s.ctx, s.h = nil, nil }

// offset returns the offset of the next byte ReadByte returns.
func (s *source) offset() int64 { return s.start + int64(s.pos) }

// fill reads the chunk holding offset(), failing with io.EOF at the stream's end.
func (s *source) fill() error {
	off := s.offset()
	if off >= s.size {
		return io.EOF
	}
	// The next layer may not watch the context; a long pass must stop at shutdown.
	if err := s.ctx.Err(); err != nil {
		return err
	}
	aligned := off - off%s.align
	n := min(s.chunk, s.size-aligned)
	if err := s.h.ReadAt(s.ctx, s.buf[:n], aligned, 0); err != nil {
		return fmt.Errorf("reading the compressed data at offset %d: %w", aligned, err)
	}
	s.start, s.pos, s.n = aligned, int(off-aligned), int(n)
	return nil
}

func (s *source) ReadByte() (byte, error) {
	if s.pos >= s.n {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.pos]
	s.pos++
	return c, nil
}

func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.pos >= s.n {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos:s.n])
	s.pos += n
	return n, nil
}

// byteAt returns the byte at offset off, from the buffer when it holds it, without
// moving the read position.
func (s *source) byteAt(off int64) (byte, error) {
	if off >= s.start && off < s.start+int64(s.n) {
		return s.buf[off-s.start], nil
	}
	if off >= s.size {
		return 0, io.ErrUnexpectedEOF
	}
	aligned := off - off%s.align
	n := int(min(s.align, s.size-aligned))
	if cap(s.scratch) < n {
		s.scratch = make([]byte, n)
	}
	if err := s.h.ReadAt(s.ctx, s.scratch[:n], aligned, 0); err != nil {
		return 0, fmt.Errorf("reading the compressed data at offset %d: %w", aligned, err)
	}
	return s.scratch[off-aligned], nil
}
