package gzip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"

	"github.com/klauspost/compress/flate"
)

// An index lets a read restart decompression near any offset, as zlib's zran.c does:
// the uncompressed stream is cut into spans of about the span size, at DEFLATE block
// boundaries, and for the start of each span the index keeps the position in the
// compressed stream (to the bit) and the 32 KiB window of uncompressed data before it,
// which back-references of the span's blocks may reach into. A span never crosses a
// member boundary, so the first span of a member needs no window.
//
// While it builds the index, the indexer also verifies every member's CRC-32 and length,
// keeps the CRC-32 of each span (so that a span decompressed again later is checked
// against what was verified, in case the compressed data changed underneath), and notes
// which zeroBlock-sized blocks hold only zeroes: reads of those need no decompression,
// and extents report them.
type index struct {
	size           int64 // of the uncompressed data
	compressedSize int64
	members        int
	spans          []checkpoint
	zero           bitmap // one bit per zeroBlock, set when the block is all zeroes
}

// A checkpoint is where decompression can restart: the start of a span.
type checkpoint struct {
	out    int64  // uncompressed offset of the span's first byte
	in     int64  // offset of the compressed byte holding the span's first bit
	bit    uint8  // how many low bits of that byte belong to the previous block
	window []byte // up to 32 KiB of the member's uncompressed data before out
	crc    uint32 // CRC-32 of the span's uncompressed data
}

// zeroBlock is the granularity at which the index records all-zero data.
const zeroBlock = 64 << 10

// span returns the index of the span holding uncompressed offset off.
func (x *index) span(off int64) int {
	return sort.Search(len(x.spans), func(i int) bool { return x.spans[i].out > off }) - 1
}

// spanEnd returns the uncompressed offset where span i ends.
func (x *index) spanEnd(i int) int64 {
	if i+1 < len(x.spans) {
		return x.spans[i+1].out
	}
	return x.size
}

// memory returns roughly how many bytes the index holds.
func (x *index) memory() int64 {
	n := int64(len(x.zero)) * 8
	for _, cp := range x.spans {
		n += int64(len(cp.window)) + 48
	}
	return n
}

// allZero reports whether [off, off+n) lies in blocks that are all zeroes.
func (x *index) allZero(off, n int64) bool {
	for b := off / zeroBlock; b*zeroBlock < off+n; b++ {
		if !x.zero.get(b) {
			return false
		}
	}
	return true
}

// A bitmap is a set of block numbers.
type bitmap []uint64

func (m bitmap) get(i int64) bool { return m[i/64]&(1<<(i%64)) != 0 }

func (m *bitmap) set(i int64) {
	for int64(len(*m)) <= i/64 {
		*m = append(*m, 0)
	}
	(*m)[i/64] |= 1 << (i % 64)
}

// indexReadSize is how much compressed data the indexer reads from the next layer at a
// time.
const indexReadSize = 1 << 20

// errNoMembers is the error for an empty stream.
var errNoMembers = errors.New("the file is empty: a gzip file holds at least one member")

// buildIndex decompresses the whole gzip stream of size bytes read through src and
// returns its index, or the first thing wrong with the stream.
func buildIndex(ctx context.Context, src *source, size, spanSize int64) (*index, error) {
	ix := &indexer{x: &index{compressedSize: size}, spanSize: spanSize}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := src.offset()
		first, err := src.ReadByte()
		if err == io.EOF {
			if ix.x.members == 0 {
				return nil, errNoMembers
			}
			break
		}
		if err != nil {
			return nil, err
		}
		if ix.x.members > 0 && first == 0 {
			// Zeroes after the last member are padding (a tape block, say), which
			// gzip(1) ignores too; anything else after it would be lost data.
			if err := trailingZeroes(src); err != nil {
				return nil, err
			}
			break
		}
		if err := ix.member(src, first); err != nil {
			if ix.x.members > 0 && errors.Is(err, errNotGzip) {
				return nil, fmt.Errorf("unexpected data at offset %d after member %d: %w", start, ix.x.members, err)
			}
			return nil, fmt.Errorf("member %d (at offset %d): %w", ix.x.members+1, start, err)
		}
	}
	ix.x.size = ix.pos
	ix.closeZeroBlock()
	return ix.x, nil
}

// trailingZeroes reads src to its end, failing at the first byte that is not zero.
func trailingZeroes(src *source) error {
	for {
		c, err := src.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c != 0 {
			return fmt.Errorf("unexpected data at offset %d after the zero padding that follows the last member", src.offset()-1)
		}
	}
}

// indexer builds an index from the uncompressed data written to it in order, and the
// block boundaries the decompressor reports.
type indexer struct {
	x        *index
	spanSize int64

	pos     int64        // uncompressed bytes seen so far
	spanCRC uint32       // of the current span so far
	pending []checkpoint // recorded at block ends the data has not reached yet
	lastOut int64        // out of the latest checkpoint recorded

	memberIn  int64 // compressed offset of the current member's DEFLATE data
	memberOut int64 // uncompressed offset where the current member starts

	// Where the current DEFLATE block starts, in bits from memberIn and in bytes of
	// the member's output, and how many bytes the decompressor's count of its input
	// is ahead of the truth (see trueBlockEnd).
	src        *source
	blockStart int64
	blockOut   int64
	drift      int64
	err        error // the first error of blockEnd

	memberCRC uint32
	memberLen int64

	blockZero bool // whether the current zero block holds only zeroes so far
}

// member decompresses one member whose first byte, first, was read from src.
func (ix *indexer) member(src *source, first byte) error {
	if err := readMemberHeader(src, first); err != nil {
		return err
	}
	ix.memberIn, ix.memberOut = src.offset(), ix.pos
	ix.memberCRC, ix.memberLen = 0, 0
	ix.src, ix.blockStart, ix.blockOut, ix.drift = src, 0, 0, 0
	ix.startSpan(checkpoint{out: ix.pos, in: ix.memberIn})
	ix.lastOut = ix.pos

	// The decompressor reads bytes one at a time from src, which buffers: it reads no
	// further than the last byte of the DEFLATE data, so the trailer comes next.
	d := flate.NewReaderOpts(src, flate.WithEobCallback(ix.blockEnd))
	if _, err := io.Copy(ix, d); err != nil {
		var corrupt flate.CorruptInputError
		if errors.As(err, &corrupt) {
			return fmt.Errorf("corrupt compressed data near offset %d", ix.memberIn+int64(corrupt))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("the file is truncated: it ends inside the compressed data, %d bytes into the member's output", ix.memberLen)
		}
		return err
	}
	if ix.err != nil {
		return ix.err
	}
	ix.flushPending()
	crc, isize, err := readTrailer(src)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("the file is truncated: it ends inside the member's trailer")
		}
		return err
	}
	if crc != ix.memberCRC {
		return fmt.Errorf("CRC-32 mismatch: the trailer says %08x, the data decompresses to %08x: the file is corrupt", crc, ix.memberCRC)
	}
	if isize != uint32(ix.memberLen) {
		return fmt.Errorf("length mismatch: the trailer says %d (modulo 2³²), the data decompresses to %d bytes: the file is corrupt", isize, ix.memberLen)
	}
	ix.x.members++
	return nil
}

// blockEnd is called by the decompressor at the end of every DEFLATE block. It
// records a checkpoint once the current span is long enough.
func (ix *indexer) blockEnd(cp flate.InflateCheckpoint) {
	if ix.err != nil {
		return
	}
	// cp's offsets count from the start of the member's DEFLATE data.
	end, err := ix.trueBlockEnd(cp)
	if err != nil {
		ix.err = err
		return
	}
	ix.blockStart, ix.blockOut = end, cp.UncompressedOffset
	out := ix.memberOut + cp.UncompressedOffset
	if cp.Final || out-ix.lastOut < ix.spanSize {
		return
	}
	ix.lastOut = out
	ix.pending = append(ix.pending, checkpoint{
		out:    out,
		in:     ix.memberIn + end/8,
		bit:    uint8(end % 8),
		window: bytes.Clone(cp.Window), // cp.Window is the decompressor's, reused
	})
}

// trueBlockEnd returns the bit position, from the start of the member's DEFLATE data,
// where the block ending at cp ends.
//
// The decompressor's own position is wrong after some stored blocks: when it enters
// one with whole bytes of input already buffered, it counts those bytes twice
// (klauspost/compress v1.19.2, flate's dataBlock). The error is a whole number of bytes
// that only grows at stored blocks, so the indexer tracks it: the end of a stored block
// follows from where it starts and its length, and the difference from the reported
// end is the new error, which every later report carries.
func (ix *indexer) trueBlockEnd(cp flate.InflateCheckpoint) (int64, error) {
	reported := cp.CompressedOffset*8 + int64(cp.BitOffset)
	stored, err := ix.storedBlockAt(ix.blockStart)
	if err != nil {
		return 0, err
	}
	if !stored {
		return reported - 8*ix.drift, nil
	}
	// A stored block: 3 header bits, padding to a byte boundary, LEN and NLEN (2
	// bytes each), then LEN bytes.
	length := cp.UncompressedOffset - ix.blockOut
	end := ((ix.blockStart+3+7)/8 + 4 + length) * 8
	drift := (reported - end) / 8
	if (reported-end)%8 != 0 || drift < ix.drift || drift > ix.drift+4 {
		return 0, fmt.Errorf("internal error: cannot place the stored block ending at output offset %d "+
			"(reported at bit %d, computed %d)", ix.memberOut+cp.UncompressedOffset, reported, end)
	}
	ix.drift = drift
	return end, nil
}

// storedBlockAt reports whether the block whose header starts at bit pos of the
// member's DEFLATE data is a stored block (BTYPE 00, the two bits after BFINAL).
func (ix *indexer) storedBlockAt(pos int64) (bool, error) {
	var bits uint16
	first := (pos + 1) / 8
	for i := range int64(2) {
		if (pos+2)/8 < first+i {
			break
		}
		c, err := ix.src.byteAt(ix.memberIn + first + i)
		if err != nil {
			return false, err
		}
		bits |= uint16(c) << (8 * i)
	}
	btype := (bits >> ((pos + 1) % 8)) & 3
	return btype == 0, nil
}

// startSpan makes cp the start of a new span, ending the current one.
func (ix *indexer) startSpan(cp checkpoint) {
	if n := len(ix.x.spans); n > 0 {
		if ix.x.spans[n-1].out == cp.out {
			// The current span is empty (an empty member): replace it.
			ix.x.spans = ix.x.spans[:n-1]
		} else {
			ix.x.spans[n-1].crc = ix.spanCRC
		}
	}
	ix.x.spans = append(ix.x.spans, cp)
	ix.spanCRC = 0
}

// flushPending starts the spans whose checkpoints the data has reached.
func (ix *indexer) flushPending() {
	for len(ix.pending) > 0 && ix.pending[0].out <= ix.pos {
		ix.startSpan(ix.pending[0])
		ix.pending = ix.pending[1:]
	}
}

// Write takes the next uncompressed bytes of the current member.
func (ix *indexer) Write(p []byte) (int, error) {
	total := len(p)
	ix.memberCRC = crc32.Update(ix.memberCRC, crc32.IEEETable, p)
	for len(p) > 0 {
		ix.flushPending()
		n := int64(len(p))
		if len(ix.pending) > 0 {
			n = min(n, ix.pending[0].out-ix.pos)
		}
		ix.consume(p[:n])
		p = p[n:]
	}
	ix.flushPending()
	return total, nil
}

// consume accounts for uncompressed bytes that all belong to the current span.
func (ix *indexer) consume(p []byte) {
	ix.spanCRC = crc32.Update(ix.spanCRC, crc32.IEEETable, p)
	for len(p) > 0 {
		inBlock := ix.pos % zeroBlock
		if inBlock == 0 {
			ix.blockZero = true
		}
		n := min(int64(len(p)), zeroBlock-inBlock)
		if ix.blockZero && !isZero(p[:n]) {
			ix.blockZero = false
		}
		ix.pos += n
		ix.memberLen += n
		p = p[n:]
		if ix.pos%zeroBlock == 0 && ix.blockZero {
			ix.x.zero.set(ix.pos/zeroBlock - 1)
		}
	}
}

// closeZeroBlock records the last, partial zero block, and makes the bitmap cover every
// block.
func (ix *indexer) closeZeroBlock() {
	if ix.pos%zeroBlock != 0 && ix.blockZero {
		ix.x.zero.set(ix.pos / zeroBlock)
	}
	if n := len(ix.x.spans); n > 0 {
		ix.x.spans[n-1].crc = ix.spanCRC
	}
	blocks := (ix.pos + zeroBlock - 1) / zeroBlock
	for int64(len(ix.x.zero))*64 < blocks {
		ix.x.zero = append(ix.x.zero, 0)
	}
}

var zeroes [zeroBlock]byte

func isZero(p []byte) bool { return bytes.Equal(p, zeroes[:len(p)]) }
