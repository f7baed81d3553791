package lzip

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// The lzip format (lzip's manual, "File format"): a file is a sequence of members,
// each a 6-byte header, an LZMA stream and a 20-byte trailer. The trailer ends with the
// member's size, so that members can be found from the end of the file without
// decompressing anything.
const (
	headerSize = 6
	// trailerSize: CRC32 of the data, data size, member size (little-endian).
	trailerSize = 20
	// minMemberSize is the smallest possible member: an empty one.
	minMemberSize = 36
	magic         = "LZIP"
	version       = 1
	minDictSize   = 1 << 12
	maxDictSize   = 1 << 29
)

// A member is one lzip member's place in the file and in the decompressed data.
type member struct {
	offset, size         int64 // of the whole member in the file
	dataOffset, dataSize int64 // of its decompressed data
	dictSize             uint32
	crc                  uint32 // CRC32 of the decompressed data
}

// lzmaOffset and lzmaSize locate the member's LZMA stream.
func (m member) lzmaOffset() int64 { return m.offset + headerSize }
func (m member) lzmaSize() int64   { return m.size - headerSize - trailerSize }

// An index lists the members of a file, in order.
type index struct {
	fileSize int64
	dataSize int64 // the decompressed size of the whole file
	members  []member
}

// find returns the number of the member holding decompressed offset off, which is
// less than the data size.
func (x *index) find(off int64) int {
	return sort.Search(len(x.members), func(i int) bool {
		m := x.members[i]
		return m.dataOffset+m.dataSize > off
	})
}

// buildIndex reads the trailers and headers of a file of fileSize bytes, from its end,
// and checks that the members fill the file exactly. Members that decompress to more
// than maxMember bytes are refused.
func buildIndex(r io.ReaderAt, fileSize, maxMember int64) (*index, error) {
	if fileSize < minMemberSize {
		return nil, fmt.Errorf("not an lzip file: %d bytes is less than the smallest member (%d bytes)", fileSize, minMemberSize)
	}
	var members []member
	var trailer [trailerSize]byte
	var header [headerSize]byte
	for end := fileSize; end > 0; end -= members[len(members)-1].size {
		if end < minMemberSize {
			return nil, fmt.Errorf("%d bytes at the start of the file are not an lzip member", end)
		}
		if _, err := r.ReadAt(trailer[:], end-trailerSize); err != nil {
			return nil, fmt.Errorf("reading the lzip trailer ending at %d: %w", end, err)
		}
		m := member{
			crc:      binary.LittleEndian.Uint32(trailer[0:]),
			dataSize: int64(binary.LittleEndian.Uint64(trailer[4:])),
			size:     int64(binary.LittleEndian.Uint64(trailer[12:])),
		}
		if m.size < minMemberSize || m.size > end {
			if end == fileSize {
				return nil, fmt.Errorf("not an lzip file, or one with data after its last member, or a truncated one " +
					"(the last 20 bytes are not a member trailer)")
			}
			return nil, fmt.Errorf("the lzip member ending at %d claims a size of %d bytes, which cannot be", end, m.size)
		}
		m.offset = end - m.size
		if m.dataSize < 0 {
			return nil, fmt.Errorf("the lzip member at %d claims a data size of %d bytes", m.offset, uint64(m.dataSize))
		}
		if m.dataSize > maxMember {
			return nil, fmt.Errorf("the lzip member at %d decompresses to %d bytes, more than the limit of %d (lzip-max-block)",
				m.offset, m.dataSize, maxMember)
		}
		if _, err := r.ReadAt(header[:], m.offset); err != nil {
			return nil, fmt.Errorf("reading the lzip header at %d: %w", m.offset, err)
		}
		dictSize, err := parseHeader(header[:])
		if err != nil {
			return nil, fmt.Errorf("the lzip member at %d (found from its trailer ending at %d): %w", m.offset, end, err)
		}
		m.dictSize = dictSize
		members = append(members, m)
	}
	// They were found last first.
	x := &index{fileSize: fileSize, members: make([]member, 0, len(members))}
	for i := len(members) - 1; i >= 0; i-- {
		m := members[i]
		m.dataOffset = x.dataSize
		if x.dataSize+m.dataSize < x.dataSize {
			return nil, fmt.Errorf("the lzip members decompress to more than 2⁶³ bytes")
		}
		x.dataSize += m.dataSize
		x.members = append(x.members, m)
	}
	return x, nil
}

// parseHeader checks a member header and returns the dictionary size it codes.
func parseHeader(h []byte) (uint32, error) {
	if string(h[:4]) != magic {
		return 0, fmt.Errorf("no LZIP magic: not an lzip member")
	}
	if h[4] != version {
		return 0, fmt.Errorf("lzip version %d is not supported (only version 1 is)", h[4])
	}
	// The low 5 bits are the base 2 logarithm of a size, from which the top 3 bits
	// subtract as many sixteenths.
	base := uint32(1) << (h[5] & 0x1f)
	size := base - base/16*uint32(h[5]>>5)
	if h[5]&0x1f > 29 || size < minDictSize || size > maxDictSize {
		return 0, fmt.Errorf("invalid dictionary size code %#x", h[5])
	}
	return size, nil
}
