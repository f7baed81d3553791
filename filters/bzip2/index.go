package bzip2

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"sort"
	"sync"
)

// scanChunk is how much of the compressed file the index reads at a time.
const scanChunk = 1 << 20

// maxMerge bounds how many candidates past a block's magic the index tries as its end
// when chance matches of a magic number lie inside it.
const maxMerge = 8

// An index lists the blocks of a bzip2 file, of one or more streams, in order.
type index struct {
	fileSize int64
	dataSize int64
	blocks   []block
}

// find returns the number of the block holding decompressed offset off, which is less
// than the data size.
func (x *index) find(off int64) int {
	return sort.Search(len(x.blocks), func(i int) bool {
		b := x.blocks[i]
		return b.dataOffset+b.dataSize > off
	})
}

// A reader reads the compressed file.
type reader func(ctx context.Context, p []byte, off int64) error

// buildIndex indexes the bzip2 file of fileSize bytes that read reads. There is no
// table of blocks in a bzip2 file, nor any record of their decompressed sizes, so it
// decompresses every block once, on as many cores as there are:
//
//  1. Find every place where a block or end-of-stream magic number appears, at any bit
//     offset. These are the candidates: every block starts at one, though compressed
//     data may also hold a magic number by chance.
//  2. Decode the bits from each block candidate to the next candidate as a block of
//     its own, in parallel, noting its size and CRC.
//  3. Walk the streams from the start of the file: each begins with a header, chains
//     blocks, each ending where the next candidate that makes it decode starts, and
//     ends with an end-of-stream marker whose CRC combines the blocks'. The walk
//     checks that the streams fill the file.
func buildIndex(ctx context.Context, read reader, fileSize int64) (*index, error) {
	if fileSize < 4 {
		return nil, fmt.Errorf("not a bzip2 file: %d bytes is less than a stream header", fileSize)
	}
	cands, err := findCandidates(ctx, read, fileSize)
	if err != nil {
		return nil, err
	}
	levels, err := streamLevels(ctx, read, cands)
	if err != nil {
		return nil, err
	}
	segments, err := decodeSegments(ctx, read, cands, levels)
	if err != nil {
		return nil, err
	}
	w := walker{ctx: ctx, read: read, fileSize: fileSize, cands: cands, levels: levels, segments: segments}
	return w.walk()
}

// findCandidates reads the whole file and returns the magic numbers in it, in order.
func findCandidates(ctx context.Context, read reader, fileSize int64) ([]candidate, error) {
	var s magicScanner
	var cands []candidate
	buf := make([]byte, scanChunk)
	for off := int64(0); off < fileSize; off += scanChunk {
		p := buf[:min(scanChunk, fileSize-off)]
		if err := read(ctx, p, off); err != nil {
			return nil, fmt.Errorf("reading the bzip2 file at %d: %w", off, err)
		}
		cands = s.scan(p, cands)
	}
	return cands, nil
}

// streamLevels returns, for each candidate, the block size digit of the stream header
// ("BZh1" to "BZh9") in the four bytes before it, or 0 where there is none. Block
// candidates take the level of the last header before them.
func streamLevels(ctx context.Context, read reader, cands []candidate) ([]byte, error) {
	levels := make([]byte, len(cands))
	var hdr [4]byte
	for i, c := range cands {
		if c.bit%8 != 0 || c.bit < 32 {
			continue
		}
		if err := read(ctx, hdr[:], c.bit/8-4); err != nil {
			return nil, fmt.Errorf("reading the bzip2 file at %d: %w", c.bit/8-4, err)
		}
		if hdr[0] == 'B' && hdr[1] == 'Z' && hdr[2] == 'h' && '1' <= hdr[3] && hdr[3] <= '9' {
			levels[i] = hdr[3]
		}
	}
	return levels, nil
}

// A segment is what decoding the bits from a block candidate to the next candidate
// gave.
type segment struct {
	size int64
	crc  uint32
	err  error
}

// decodeSegments decodes, on every core, the bits from each block candidate to the
// next candidate. The file is read here, in order, one goroutine at a time, as the
// layers behind expect of a connection's requests.
func decodeSegments(ctx context.Context, read reader, cands []candidate, levels []byte) ([]segment, error) {
	segments := make([]segment, len(cands))
	type job struct {
		i     int
		src   []byte
		level byte
	}
	jobs := make(chan job, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c, next := cands[j.i], cands[j.i+1]
				s := &segments[j.i]
				s.size, s.crc, s.err = decodeSize(j.src, c.bit%8, next.bit-c.bit, j.level)
			}
		}()
	}
	var err error
	level := byte('9') // the level of the last stream header, for the blocks after it
	for i := 0; i+1 < len(cands) && err == nil; i++ {
		if levels[i] != 0 {
			level = levels[i]
		}
		if cands[i].eos {
			continue
		}
		off, length := cands[i].bit/8, (cands[i+1].bit+7)/8-cands[i].bit/8
		src := make([]byte, length)
		if err = read(ctx, src, off); err != nil {
			err = fmt.Errorf("reading the bzip2 file at %d: %w", off, err)
			break
		}
		jobs <- job{i: i, src: src, level: level}
	}
	close(jobs)
	wg.Wait()
	return segments, err
}

// A walker follows the streams of the file through the candidates.
type walker struct {
	ctx      context.Context
	read     reader
	fileSize int64
	cands    []candidate
	levels   []byte
	segments []segment
	x        index
}

func (w *walker) walk() (*index, error) {
	w.x.fileSize = w.fileSize
	for pos := int64(0); pos < w.fileSize; {
		next, err := w.stream(pos)
		if err != nil {
			return nil, err
		}
		pos = next
	}
	return &w.x, nil
}

// stream indexes the stream whose header is at byte pos and returns where the next
// stream starts.
func (w *walker) stream(pos int64) (int64, error) {
	var hdr [4]byte
	if pos+4 > w.fileSize {
		return 0, w.afterLastStream(pos)
	}
	if err := w.read(w.ctx, hdr[:], pos); err != nil {
		return 0, fmt.Errorf("reading the bzip2 file at %d: %w", pos, err)
	}
	if hdr[0] != 'B' || hdr[1] != 'Z' || hdr[2] != 'h' || hdr[3] < '1' || hdr[3] > '9' {
		if pos == 0 {
			return 0, fmt.Errorf("not a bzip2 file (no BZh header)")
		}
		return 0, w.afterLastStream(pos)
	}
	level := hdr[3]
	start := (pos + 4) * 8
	k := sort.Search(len(w.cands), func(i int) bool { return w.cands[i].bit >= start })
	if k == len(w.cands) || w.cands[k].bit != start {
		return 0, fmt.Errorf("%w: the stream at byte %d has no block or end-of-stream marker after its header (truncated?)", errCorrupt, pos)
	}
	var combined uint32
	for {
		c := w.cands[k]
		if c.eos {
			return w.end(c, combined)
		}
		end, size, crc, err := w.blockEnd(k, level)
		if err != nil {
			return 0, err
		}
		w.x.blocks = append(w.x.blocks, block{
			bit: c.bit, endBit: w.cands[end].bit, level: level,
			dataOffset: w.x.dataSize, dataSize: size, crc: crc,
		})
		w.x.dataSize += size
		combined = bits.RotateLeft32(combined, 1) ^ crc
		k = end
	}
}

// blockEnd returns the candidate at which the block starting at candidate k ends: the
// first one such that the bits in between decode as a block.
func (w *walker) blockEnd(k int, level byte) (end int, size int64, crc uint32, err error) {
	c := w.cands[k]
	if k+1 == len(w.cands) {
		return 0, 0, 0, fmt.Errorf("%w: the block at byte %d (bit %d) is not followed by another or by an end-of-stream marker (truncated?)",
			errCorrupt, c.bit/8, c.bit%8)
	}
	s := w.segments[k]
	if s.err == nil {
		return k + 1, s.size, s.crc, nil
	}
	// A chance match inside the block, or a damaged block: try further candidates.
	for j := k + 2; j < len(w.cands) && j <= k+maxMerge; j++ {
		off, length := c.bit/8, (w.cands[j].bit+7)/8-c.bit/8
		src := make([]byte, length)
		if err := w.read(w.ctx, src, off); err != nil {
			return 0, 0, 0, fmt.Errorf("reading the bzip2 file at %d: %w", off, err)
		}
		if size, crc, err := decodeSize(src, c.bit%8, w.cands[j].bit-c.bit, level); err == nil {
			return j, size, crc, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("the block at byte %d (bit %d) does not decode: %w", c.bit/8, c.bit%8, s.err)
}

// end checks the end-of-stream marker at c against the combined CRC of the stream's
// blocks and returns where the next stream may start: the next byte boundary.
func (w *walker) end(c candidate, combined uint32) (int64, error) {
	endBit := c.bit + magicBits + crcBits
	if endBit > w.fileSize*8 {
		return 0, fmt.Errorf("%w: the file ends inside an end-of-stream marker (truncated?)", errCorrupt)
	}
	var buf [11]byte
	off := c.bit / 8
	p := buf[:min(int64(len(buf)), w.fileSize-off)]
	if err := w.read(w.ctx, p, off); err != nil {
		return 0, fmt.Errorf("reading the bzip2 file at %d: %w", off, err)
	}
	if stored := uint32(readBits(p, c.bit%8+magicBits, crcBits)); stored != combined {
		return 0, fmt.Errorf("%w: the stream ending at byte %d has CRC %08x, but its blocks combine to %08x",
			errCorrupt, off, stored, combined)
	}
	return (endBit + 7) / 8, nil
}

// afterLastStream returns the error for bytes after a stream that do not start another.
func (w *walker) afterLastStream(pos int64) error {
	return fmt.Errorf("%d bytes at byte %d, after the last bzip2 stream, are not a stream", w.fileSize-pos, pos)
}
