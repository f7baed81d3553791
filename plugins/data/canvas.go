package data

import (
	"errors"
	"io"
	"math"
)

// A canvas is what one scope of the evaluation writes into: the data parameter itself,
// a group, the value of a $VAR, the operand of *N or [N:M]. Its offsets start at 0,
// which is what makes offsets in a group relative to the group; its length is the
// highest offset written to or moved to.
type canvas struct {
	s   *sparseStore
	cur int64 // where the next byte goes
	end int64 // the length so far
}

func newCanvas() *canvas { return &canvas{s: newSparseStore()} }

const (
	// maxOffset is the largest disk size NBD can describe, 2⁶³-1 bytes.
	maxOffset = math.MaxInt64
	// chunkSize is how much the canvas writes at a time when it fills or repeats.
	chunkSize = 1 << 20
	// maxPattern is the longest pattern *N writes from a buffer rather than by
	// copying pages.
	maxPattern = 64 << 10
)

// errTooLarge is why the evaluation stops when the data would reach past maxOffset.
var errTooLarge = errors.New("the data would reach past 2⁶³-1 bytes, the largest disk size")

// advance moves the offset past n bytes written at it.
func (c *canvas) advance(n int64) {
	c.cur += n
	c.end = max(c.end, c.cur)
}

// room reports whether n more bytes fit at the offset.
func (c *canvas) room(n int64) error {
	if n > maxOffset-c.cur {
		return errTooLarge
	}
	return nil
}

// write writes b at the offset.
func (c *canvas) write(b []byte) error {
	if err := c.room(int64(len(b))); err != nil {
		return err
	}
	c.s.writeAt(b, c.cur)
	c.advance(int64(len(b)))
	return nil
}

// zero writes n zeroes at the offset.
func (c *canvas) zero(n int64) error {
	if err := c.room(n); err != nil {
		return err
	}
	c.clearUpTo(c.cur + n)
	c.advance(n)
	return nil
}

// clearUpTo zeroes from the offset to end, as far as anything was written there:
// beyond c.end the canvas is known to be zero already.
func (c *canvas) clearUpTo(end int64) {
	if end = min(end, c.end); end > c.cur {
		c.s.zero(c.cur, end-c.cur)
	}
}

// fill writes n copies of the byte b.
func (c *canvas) fill(b byte, n int64) error {
	if b == 0 {
		return c.zero(n)
	}
	if err := c.room(n); err != nil {
		return err
	}
	chunk := make([]byte, min(n, chunkSize))
	for i := range chunk {
		chunk[i] = b
	}
	for n > 0 {
		k := min(n, int64(len(chunk)))
		c.s.writeAt(chunk[:k], c.cur)
		c.advance(k)
		n -= k
	}
	return nil
}

// copyFrom writes the bytes [off, off+n) of src, zeroes included: they overwrite what
// was there, as nbdkit's blit does.
func (c *canvas) copyFrom(src *canvas, off, n int64) error {
	if err := c.room(n); err != nil {
		return err
	}
	base := c.cur - off
	err := src.s.scan(off, n, func(o int64, b []byte, k int64) error {
		c.cur = base + o
		if b == nil {
			c.clearUpTo(c.cur + k)
		} else {
			c.s.writeAt(b, c.cur)
		}
		c.advance(k)
		return nil
	})
	c.cur = base + off + n
	c.end = max(c.end, c.cur)
	return err
}

// repeat writes all of src n times, checking for cancellation with canceled between
// copies.
func (c *canvas) repeat(src *canvas, n int64, canceled func() error) error {
	length := src.end
	if length == 0 || n == 0 {
		return nil
	}
	if n > (maxOffset-c.cur)/length {
		return errTooLarge
	}
	if length > maxPattern {
		for ; n > 0; n-- {
			if err := canceled(); err != nil {
				return err
			}
			if err := c.copyFrom(src, 0, length); err != nil {
				return err
			}
		}
		return nil
	}
	// A short pattern is repeated in a buffer first, so that each write is large.
	pattern := make([]byte, length)
	src.s.readAt(pattern, 0)
	if isZero(pattern) {
		return c.zero(length * n)
	}
	times := max(1, chunkSize/length) // copies of the pattern in the buffer
	chunk := make([]byte, 0, length*min(times, n))
	for range min(times, n) {
		chunk = append(chunk, pattern...)
	}
	for n > 0 {
		if err := canceled(); err != nil {
			return err
		}
		k := min(n, times)
		if err := c.write(chunk[:k*length]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// readFrom writes what r yields until io.EOF, checking for cancellation with
// canceled between reads.
func (c *canvas) readFrom(r io.Reader, canceled func() error) error {
	buf := make([]byte, 64<<10)
	for {
		if err := canceled(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if werr := c.write(buf[:n]); werr != nil {
			return werr
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
