package bzip2

import (
	"math/bits"
	"sync"
)

// bzip2 streams are bit streams, most significant bit first: blocks start at any bit,
// marked by a 48-bit magic number.
const (
	blockMagic = 0x314159265359 // the start of a block: BCD pi
	eosMagic   = 0x177245385090 // the end of a stream: BCD sqrt(pi)
	magicBits  = 48
	crcBits    = 32
	magicMask  = 1<<magicBits - 1
)

// readBits returns the n ≤ 64 bits of b starting at bit offset bit, most significant
// first. The caller makes sure they are within b.
func readBits(b []byte, bit int64, n int) uint64 {
	var v uint64
	for i := range int64(n) {
		pos := bit + i
		v = v<<1 | uint64(b[pos/8]>>(7-pos%8)&1)
	}
	return v
}

// appendBits appends the nbits bits of src starting at bit srcBit to dst, which ends
// on a byte boundary, and returns dst; the unused low bits of its last byte are zero.
func appendBits(dst, src []byte, srcBit, nbits int64) []byte {
	shift := uint(srcBit % 8)
	from := srcBit / 8
	whole := nbits / 8
	for i := range whole {
		c := src[from+i] << shift
		if shift != 0 {
			c |= src[from+i+1] >> (8 - shift)
		}
		dst = append(dst, c)
	}
	if rest := nbits % 8; rest != 0 {
		c := byte(readBits(src, srcBit+whole*8, int(rest)) << (8 - rest))
		dst = append(dst, c)
	}
	return dst
}

// A bitWriter appends bits to a byte slice, most significant first.
type bitWriter struct {
	b     []byte
	nbits int64 // bits used in b; the last byte may be partly used
}

// write appends the low n bits of v.
func (w *bitWriter) write(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.nbits%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>uint(i)&1) << (7 - w.nbits%8)
		w.nbits++
	}
}

// A magicScanner finds the block and end-of-stream magic numbers in a byte stream at
// every bit offset.
type magicScanner struct {
	reg   uint64 // the last 64 bits seen
	nbits int64  // bits seen so far
}

// A candidate is a place where a magic number appears: a block or a stream's end, or
// (rarely) a chance match inside compressed data, which the index tells apart by
// decoding.
type candidate struct {
	bit int64 // of the magic's first bit
	eos bool  // the end-of-stream magic, not a block's
}

// scan feeds p to the scanner and appends the magic numbers that end within it.
func (s *magicScanner) scan(p []byte, found []candidate) []candidate {
	shifts := shiftTable()
	reg, nbits := s.reg, s.nbits // locals: this loop is the index's hot path
	for _, c := range p {
		reg = reg<<8 | uint64(c)
		nbits += 8
		// Only the shifts at which the last 16 bits match the end of a magic number
		// need the full comparison: about 3% of bytes have any.
		for m := shifts[reg&0xffff]; m != 0; m &= m - 1 {
			k := bits.TrailingZeros8(m) // the magic number ends k bits before the end
			v := reg >> uint(k) & magicMask
			if (v == blockMagic || v == eosMagic) && nbits-int64(k) >= magicBits {
				found = append(found, candidate{bit: nbits - int64(k) - magicBits, eos: v == eosMagic})
			}
		}
	}
	s.reg, s.nbits = reg, nbits
	return found
}

// shiftTable returns, for each 16-bit value w, the set of shifts k (bit k) from 0 to 7
// such that w's bits above the k lowest are the end of a magic number. It is made on
// first use and never changes.
var shiftTable = sync.OnceValue(func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	for w := range 1 << 16 {
		for k := range 8 {
			mask := uint64(1)<<(16-k) - 1
			v := uint64(w) >> k
			if v == blockMagic&mask || v == eosMagic&mask {
				t[w] |= 1 << k
			}
		}
	}
	return &t
})
