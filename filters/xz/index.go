package xz

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// An index lists every block of every stream of a file, in order, with where it is in
// the file and in the uncompressed data: what random access needs.
type index struct {
	size           int64 // of the uncompressed data
	compressedSize int64
	streams        int
	blocks         []block
	maxBlock       int64 // the largest block's uncompressed size
	checks         map[byte]bool
}

// A block is one xz block.
type block struct {
	in       int64 // file offset of its header
	unpadded int64 // header + compressed data + check
	out      int64 // uncompressed offset
	size     int64 // uncompressed size
	check    byte  // its stream's check type
}

// find returns the index of the block holding uncompressed offset off.
func (x *index) find(off int64) int {
	return sort.Search(len(x.blocks), func(i int) bool { return x.blocks[i].out+x.blocks[i].size > off })
}

// readFunc reads len(p) bytes of the file at off.
type readFunc func(p []byte, off int64) error

// readIndex reads the stream footers, indexes and headers of a file of size bytes,
// from its end backwards, as xz --list does, and returns its index.
func readIndex(ctx context.Context, read readFunc, size int64) (*index, error) {
	if size == 0 {
		return nil, errors.New("the file is empty")
	}
	if size%4 != 0 {
		return nil, fmt.Errorf("the file's size, %d, is not a multiple of 4: not an xz file, or truncated", size)
	}
	var streams [][]block
	var word [4]byte
	for pos := size; pos > 0; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Stream padding: 4-byte words of zeroes after a stream.
		if err := read(word[:], pos-4); err != nil {
			return nil, err
		}
		if word == [4]byte{} {
			if len(streams) == 0 && pos == 4 {
				return nil, errors.New("the file holds only zeroes")
			}
			pos -= 4
			continue
		}
		blocks, start, err := readStream(read, pos)
		if err != nil {
			return nil, fmt.Errorf("the stream ending at offset %d: %w", pos, err)
		}
		streams = append(streams, blocks)
		pos = start
	}
	if len(streams) == 0 {
		return nil, errors.New("the file holds only zeroes")
	}
	x := &index{compressedSize: size, streams: len(streams), checks: make(map[byte]bool)}
	for i := len(streams) - 1; i >= 0; i-- {
		for _, b := range streams[i] {
			if b.size == 0 {
				continue // nothing to read there
			}
			b.out = x.size
			x.size += b.size
			if x.size < 0 {
				return nil, errors.New("the uncompressed size overflows")
			}
			x.maxBlock = max(x.maxBlock, b.size)
			x.checks[b.check] = true
			x.blocks = append(x.blocks, b)
		}
	}
	return x, nil
}

// readStream reads the stream that ends at end (its footer's end) and returns its
// blocks, with their file offsets, and where the stream starts.
func readStream(read readFunc, end int64) ([]block, int64, error) {
	if end < headerSize+footerSize {
		return nil, 0, errors.New("too short for an xz stream: not an xz file, or truncated")
	}
	var footer [footerSize]byte
	if err := read(footer[:], end-footerSize); err != nil {
		return nil, 0, err
	}
	indexSize, footerFlags, err := parseFooter(footer[:])
	if err != nil {
		return nil, 0, err
	}
	indexStart := end - footerSize - indexSize
	if indexStart < headerSize {
		return nil, 0, fmt.Errorf("the footer's index size, %d, is larger than the stream", indexSize)
	}
	ib := make([]byte, indexSize)
	if err := read(ib, indexStart); err != nil {
		return nil, 0, err
	}
	records, err := parseIndex(ib)
	if err != nil {
		return nil, 0, err
	}
	var blocksSize int64
	for _, r := range records {
		blocksSize += padTo4(r.unpadded)
		if blocksSize > indexStart {
			return nil, 0, errors.New("the index lists more blocks than the stream holds")
		}
	}
	start := indexStart - blocksSize - headerSize
	if start < 0 {
		return nil, 0, errors.New("the index lists more blocks than the stream holds")
	}
	var header [headerSize]byte
	if err := read(header[:], start); err != nil {
		return nil, 0, err
	}
	headerFlags, err := parseHeader(header[:])
	if err != nil {
		return nil, 0, fmt.Errorf("at offset %d, where the index says the stream starts: %w", start, err)
	}
	if headerFlags != footerFlags {
		return nil, 0, errors.New("the stream header and footer flags differ")
	}
	check := headerFlags[1]
	blocks := make([]block, len(records))
	in := start + headerSize
	for i, r := range records {
		minUnpadded := int64(8 + checkSize(check)) // the smallest header, a byte of data
		if r.unpadded < minUnpadded {
			return nil, 0, fmt.Errorf("index record %d: a block of %d bytes is too small", i, r.unpadded)
		}
		blocks[i] = block{in: in, unpadded: r.unpadded, size: r.uncompressed, check: check}
		in += padTo4(r.unpadded)
	}
	return blocks, start, nil
}
