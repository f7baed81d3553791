package swab

import (
	"encoding/binary"
	"math/bits"
)

// swap writes src to dst with the bytes of each word of the given size (2, 4 or 8
// bytes) reversed. dst and src are the same length, a multiple of the word; they may be
// the same slice.
func swap(dst, src []byte, word int64) {
	le := binary.LittleEndian
	switch word {
	case 2:
		for i := 0; i+2 <= len(src); i += 2 {
			le.PutUint16(dst[i:], bits.ReverseBytes16(le.Uint16(src[i:])))
		}
	case 4:
		for i := 0; i+4 <= len(src); i += 4 {
			le.PutUint32(dst[i:], bits.ReverseBytes32(le.Uint32(src[i:])))
		}
	case 8:
		for i := 0; i+8 <= len(src); i += 8 {
			le.PutUint64(dst[i:], bits.ReverseBytes64(le.Uint64(src[i:])))
		}
	}
}
