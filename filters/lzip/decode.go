package lzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// lzmaProperties are the literal context bits, literal position bits and position
// bits of every lzip member's stream (3, 0, 2), coded in one byte as in .lzma headers.
const lzmaProperties = (2*5+0)*9 + 3

// decompress decodes one member's LZMA stream into a new slice of m.dataSize bytes and
// checks it against the member's CRC32.
//
// The lzma package reads the classic .lzma format, whose 13-byte header gives the
// properties, dictionary size and data size that lzip keeps elsewhere: decompress
// makes one up. With the size known, the decoder checks that the stream holds exactly
// that many bytes, followed by the end-of-stream marker lzip writes.
func decompress(m member, stream []byte) ([]byte, error) {
	var header [lzma.HeaderLen]byte
	header[0] = lzmaProperties
	binary.LittleEndian.PutUint32(header[1:], m.dictSize)
	binary.LittleEndian.PutUint64(header[5:], uint64(m.dataSize))
	r, err := lzma.NewReader(io.MultiReader(bytes.NewReader(header[:]), bytes.NewReader(stream)))
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	data := make([]byte, m.dataSize)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errors.New("the LZMA stream ends early")
		}
		return nil, fmt.Errorf("lzma: %w", err)
	}
	// Reading on checks that the stream ends here, with its end marker.
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("more data than the trailer says")
		}
		return nil, fmt.Errorf("lzma: %w", err)
	}
	if sum := crc32.ChecksumIEEE(data); sum != m.crc {
		return nil, fmt.Errorf("CRC32 mismatch: the data's is %08x, the trailer says %08x", sum, m.crc)
	}
	return data, nil
}
