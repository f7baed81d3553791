package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
)

// lzma2FilterID is the filter ID of LZMA2, the only filter this package decodes.
const lzma2FilterID = 0x21

var crc64Table = crc64.MakeTable(crc64.ECMA)

// decodeBlock decompresses block b, whose bytes as stored (header, compressed data,
// padding and check: padTo4(b.unpadded) bytes) are raw, into out (b.size bytes), and
// verifies everything the format lets it verify: the header's CRC32 and sizes, that
// the LZMA2 data ends exactly where the index says, the padding, and the check.
func decodeBlock(b *block, raw, out []byte) error {
	hdr, err := parseBlockHeader(raw)
	if err != nil {
		return err
	}
	csize := b.unpadded - int64(hdr.size) - int64(checkSize(b.check))
	if csize <= 0 {
		return fmt.Errorf("the index's size for the block, %d, leaves no room for data", b.unpadded)
	}
	if hdr.compressed >= 0 && hdr.compressed != csize {
		return fmt.Errorf("the block header's compressed size, %d, is not the index's, %d", hdr.compressed, csize)
	}
	if hdr.uncompressed >= 0 && hdr.uncompressed != b.size {
		return fmt.Errorf("the block header's uncompressed size, %d, is not the index's, %d", hdr.uncompressed, b.size)
	}
	if err := decodeLZMA2(raw[hdr.size:int64(hdr.size)+csize], out); err != nil {
		return err
	}
	rest := raw[int64(hdr.size)+csize:]
	padding := len(rest) - checkSize(b.check)
	for _, c := range rest[:padding] {
		if c != 0 {
			return errors.New("non-zero block padding")
		}
	}
	return verifyCheck(b.check, out, rest[padding:])
}

// verifyCheck compares the check of data with stored, for the types this package
// knows; others cannot be verified (the index warns about them).
func verifyCheck(t byte, data, stored []byte) error {
	var ok bool
	switch t {
	case checkCRC32:
		ok = crc32.ChecksumIEEE(data) == binary.LittleEndian.Uint32(stored)
	case checkCRC64:
		ok = crc64.Checksum(data, crc64Table) == binary.LittleEndian.Uint64(stored)
	case checkSHA256:
		sum := sha256.Sum256(data)
		ok = bytes.Equal(sum[:], stored)
	default:
		return nil
	}
	if !ok {
		return fmt.Errorf("%s mismatch: the block decompresses to other data than was compressed", checkName(t))
	}
	return nil
}

// A blockHeader is what a block header says.
type blockHeader struct {
	size         int   // of the header itself
	compressed   int64 // -1 when absent
	uncompressed int64 // -1 when absent
	dictSize     uint32
}

// parseBlockHeader parses the block header at the start of raw.
func parseBlockHeader(raw []byte) (blockHeader, error) {
	h := blockHeader{compressed: -1, uncompressed: -1}
	if len(raw) == 0 || raw[0] == 0 {
		return h, errors.New("no block header where the index says a block starts")
	}
	h.size = (int(raw[0]) + 1) * 4
	if h.size > len(raw) {
		return h, errors.New("the block header is longer than the block")
	}
	body := raw[:h.size-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(raw[h.size-4:h.size]) {
		return h, errors.New("block header CRC32 mismatch")
	}
	flags := body[1]
	if flags&0x3c != 0 {
		return h, fmt.Errorf("unsupported block flags %#02x", flags)
	}
	r := varintReader{b: body, pos: 2}
	if flags&0x40 != 0 {
		v, err := r.next()
		if err != nil || v == 0 || v > maxVLI {
			return h, errors.New("bad compressed size in the block header")
		}
		h.compressed = int64(v)
	}
	if flags&0x80 != 0 {
		v, err := r.next()
		if err != nil || v > maxVLI {
			return h, errors.New("bad uncompressed size in the block header")
		}
		h.uncompressed = int64(v)
	}
	filters := int(flags&3) + 1
	for i := range filters {
		id, err := r.next()
		if err != nil {
			return h, errors.New("bad filter ID in the block header")
		}
		propsSize, err := r.next()
		if err != nil || propsSize > uint64(len(body)-r.pos) {
			return h, errors.New("bad filter properties in the block header")
		}
		props := body[r.pos : r.pos+int(propsSize)]
		r.pos += int(propsSize)
		if id != lzma2FilterID {
			return h, fmt.Errorf("filter %#x is not supported: only LZMA2 alone is (compress without --x86, --delta and the like)", id)
		}
		if i != filters-1 {
			return h, errors.New("LZMA2 is not the last filter of the chain")
		}
		if len(props) != 1 || props[0] > 40 {
			return h, errors.New("bad LZMA2 properties in the block header")
		}
		h.dictSize = lzma2DictSize(props[0])
	}
	for _, c := range body[r.pos:] {
		if c != 0 {
			return h, errors.New("non-zero block header padding")
		}
	}
	return h, nil
}

// lzma2DictSize decodes LZMA2's dictionary size byte (0 to 40).
func lzma2DictSize(p byte) uint32 {
	if p == 40 {
		return 0xffffffff
	}
	return (2 | uint32(p&1)) << (p/2 + 11)
}
