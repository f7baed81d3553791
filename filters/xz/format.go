package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The .xz format (https://tukaani.org/xz/xz-file-format.txt): a file is one or more
// streams, each followed by zero or more 4-byte words of zero padding. A stream is a
// 12-byte header, blocks, an index listing each block's sizes, and a 12-byte footer
// that says how long the index is. Every part starts at a multiple of 4 bytes.
const (
	headerSize = 12
	footerSize = 12
)

var (
	headerMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	footerMagic = []byte{'Y', 'Z'}
)

// Check types (the low 4 bits of the stream flags).
const (
	checkNone   = 0x00
	checkCRC32  = 0x01
	checkCRC64  = 0x04
	checkSHA256 = 0x0a
)

// checkSize returns the size of a check of type t, which the format fixes for every
// type, known or not.
func checkSize(t byte) int {
	switch {
	case t == 0:
		return 0
	case t <= 3:
		return 4
	case t <= 6:
		return 8
	case t <= 9:
		return 16
	case t <= 12:
		return 32
	default:
		return 64
	}
}

// checkName names the check types xz knows.
func checkName(t byte) string {
	switch t {
	case checkNone:
		return "none"
	case checkCRC32:
		return "CRC32"
	case checkCRC64:
		return "CRC64"
	case checkSHA256:
		return "SHA-256"
	}
	return fmt.Sprintf("unknown check type %d", t)
}

// parseStreamFlags checks the two flag bytes of a stream header or footer and returns
// the check type.
func parseStreamFlags(f []byte) (byte, error) {
	if f[0] != 0 || f[1]&0xf0 != 0 {
		return 0, fmt.Errorf("unsupported stream flags %02x %02x", f[0], f[1])
	}
	return f[1], nil
}

// parseFooter checks a stream footer and returns the size of the stream's index and
// the stream flags.
func parseFooter(b []byte) (indexSize int64, flags [2]byte, err error) {
	if !bytes.Equal(b[10:12], footerMagic) {
		return 0, flags, errors.New("no stream footer magic (YZ) at the end: not an xz file, or truncated")
	}
	if crc32.ChecksumIEEE(b[4:10]) != binary.LittleEndian.Uint32(b[:4]) {
		return 0, flags, errors.New("stream footer CRC32 mismatch")
	}
	if _, err := parseStreamFlags(b[8:10]); err != nil {
		return 0, flags, err
	}
	copy(flags[:], b[8:10])
	return (int64(binary.LittleEndian.Uint32(b[4:8])) + 1) * 4, flags, nil
}

// parseHeader checks a stream header and returns its flags.
func parseHeader(b []byte) ([2]byte, error) {
	var flags [2]byte
	if !bytes.Equal(b[:6], headerMagic) {
		return flags, errors.New("no stream header magic: not an xz file")
	}
	if crc32.ChecksumIEEE(b[6:8]) != binary.LittleEndian.Uint32(b[8:12]) {
		return flags, errors.New("stream header CRC32 mismatch")
	}
	if _, err := parseStreamFlags(b[6:8]); err != nil {
		return flags, err
	}
	copy(flags[:], b[6:8])
	return flags, nil
}

// A record is what the index says of a block.
type record struct {
	unpadded     int64 // block header + compressed data + check
	uncompressed int64
}

// parseIndex parses a stream's index.
func parseIndex(b []byte) ([]record, error) {
	if len(b) < 8 || b[0] != 0 {
		return nil, errors.New("no index indicator where the footer says the index starts")
	}
	body := b[:len(b)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("index CRC32 mismatch")
	}
	r := varintReader{b: body, pos: 1}
	count, err := r.next()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	// Each record takes at least two bytes, which bounds what count may claim before
	// anything is allocated for it.
	if count > uint64(len(body))/2 {
		return nil, fmt.Errorf("index: %d records cannot fit in %d bytes", count, len(body))
	}
	records := make([]record, count)
	for i := range records {
		unpadded, err := r.next()
		if err != nil {
			return nil, fmt.Errorf("index record %d: %w", i, err)
		}
		uncompressed, err := r.next()
		if err != nil {
			return nil, fmt.Errorf("index record %d: %w", i, err)
		}
		if unpadded < 5 || unpadded > maxVLI || uncompressed > maxVLI {
			return nil, fmt.Errorf("index record %d: impossible sizes %d and %d", i, unpadded, uncompressed)
		}
		records[i] = record{unpadded: int64(unpadded), uncompressed: int64(uncompressed)}
	}
	// Then zero padding to a multiple of 4 bytes.
	if len(body)-r.pos >= 4 || len(body)%4 != 0 {
		return nil, errors.New("index: wrong size for its records")
	}
	for _, c := range body[r.pos:] {
		if c != 0 {
			return nil, errors.New("index: non-zero padding")
		}
	}
	return records, nil
}

// maxVLI bounds the variable-length integers of the format, and keeps the sums of
// sizes well within int64.
const maxVLI = 1<<63 - 1

// varintReader reads the format's variable-length integers: 7 bits a byte, least
// significant first, at most 9 bytes, with no needless trailing zero byte.
type varintReader struct {
	b   []byte
	pos int
}

func (r *varintReader) next() (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		if r.pos >= len(r.b) {
			return 0, errors.New("truncated number")
		}
		c := r.b[r.pos]
		r.pos++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, errors.New("badly encoded number")
			}
			return v, nil
		}
	}
	return 0, errors.New("number too long")
}

// padTo4 rounds n up to a multiple of 4.
func padTo4(n int64) int64 { return (n + 3) &^ 3 }
