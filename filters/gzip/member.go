package gzip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The gzip format (RFC 1952): a file is one or more members, each a header, a raw
// DEFLATE stream, and a trailer holding the CRC-32 and the length modulo 2³² of the
// member's uncompressed data.
const (
	gzipID1     = 0x1f
	gzipID2     = 0x8b
	gzipDeflate = 8

	flagHCRC     = 1 << 1
	flagExtra    = 1 << 2
	flagName     = 1 << 3
	flagComment  = 1 << 4
	flagReserved = 0xe0

	trailerSize = 8
)

// errNotGzip is returned for a stream that does not start with a gzip header.
var errNotGzip = errors.New("not a gzip file (it does not start with the gzip magic number 1f 8b)")

// headerReader reads a member header, keeping the CRC-32 of what it read for the
// optional header CRC.
type headerReader struct {
	r   io.ByteReader
	crc uint32
	one [1]byte
}

func (h *headerReader) byte() (byte, error) {
	c, err := h.r.ReadByte()
	if err != nil {
		return 0, err
	}
	h.one[0] = c
	h.crc = crc32.Update(h.crc, crc32.IEEETable, h.one[:])
	return c, nil
}

func (h *headerReader) bytes(p []byte) error {
	for i := range p {
		c, err := h.byte()
		if err != nil {
			return err
		}
		p[i] = c
	}
	return nil
}

// skipString skips a zero-terminated field (the file name or comment).
func (h *headerReader) skipString() error {
	for {
		c, err := h.byte()
		if err != nil || c == 0 {
			return err
		}
	}
}

// readMemberHeader reads a member header from r, whose first byte, already read, was
// first. It checks what RFC 1952 lets it check: the magic number, the method, the
// reserved flags and, when present, the header's CRC-16.
func readMemberHeader(r io.ByteReader, first byte) error {
	h := &headerReader{r: r}
	h.one[0] = first
	h.crc = crc32.Update(0, crc32.IEEETable, h.one[:])
	if first != gzipID1 {
		return errNotGzip
	}
	var fixed [9]byte // ID2, CM, FLG, MTIME (4), XFL, OS
	if err := h.bytes(fixed[:1]); err != nil {
		return truncated(err)
	}
	if fixed[0] != gzipID2 {
		return errNotGzip
	}
	if err := h.bytes(fixed[1:]); err != nil {
		return truncated(err)
	}
	if fixed[1] != gzipDeflate {
		return fmt.Errorf("unknown compression method %d (gzip knows only 8, deflate)", fixed[1])
	}
	flags := fixed[2]
	if flags&flagReserved != 0 {
		return fmt.Errorf("reserved header flags %#x are set", flags&flagReserved)
	}
	if flags&flagExtra != 0 {
		var xlen [2]byte
		if err := h.bytes(xlen[:]); err != nil {
			return truncated(err)
		}
		for range binary.LittleEndian.Uint16(xlen[:]) {
			if _, err := h.byte(); err != nil {
				return truncated(err)
			}
		}
	}
	for _, f := range []byte{flagName, flagComment} {
		if flags&f != 0 {
			if err := h.skipString(); err != nil {
				return truncated(err)
			}
		}
	}
	if flags&flagHCRC != 0 {
		want := uint16(h.crc)
		var sum [2]byte
		if err := h.bytes(sum[:]); err != nil {
			return truncated(err)
		}
		if got := binary.LittleEndian.Uint16(sum[:]); got != want {
			return fmt.Errorf("header CRC-16 mismatch (stored %#04x, computed %#04x)", got, want)
		}
	}
	return nil
}

// readTrailer reads a member's trailer: the CRC-32 and the length modulo 2³² of its
// uncompressed data.
func readTrailer(r io.ByteReader) (crc, isize uint32, err error) {
	var t [trailerSize]byte
	for i := range t {
		if t[i], err = r.ReadByte(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, err
		}
	}
	return binary.LittleEndian.Uint32(t[:4]), binary.LittleEndian.Uint32(t[4:]), nil
}

// errTruncatedHeader is the error for a stream that ends inside a member header.
var errTruncatedHeader = fmt.Errorf("the file is truncated: it ends inside a member header: %w", io.ErrUnexpectedEOF)

// truncated turns the end of the stream in the middle of a header into
// errTruncatedHeader, leaving other errors alone.
func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncatedHeader
	}
	return err
}
