package random

import "encoding/binary"

// A generator computes the disk's contents from its seed. Word w of the disk (bytes
// 8w to 8w+7) is, in little-endian order, the w-th output of a SplitMix64 stream
// keyed by the seed. SplitMix64's n-th output is a function of n alone, so any byte
// of the disk is computed directly from its offset, without generating what comes
// before it: reads at any offset agree with a read of the whole disk, and a read of
// 8 bytes costs a few multiplications.
//
// The numbers pass the usual statistical tests but are no secret: anyone who sees a
// word can compute the rest.
type generator struct {
	key uint64
}

// golden is SplitMix64's increment, 2⁶⁴ divided by the golden ratio.
const golden = 0x9e3779b97f4a7c15

func newGenerator(seed uint32) generator {
	return generator{key: mix(uint64(seed) + golden)}
}

// word returns the disk's w-th 8-byte word.
func (g generator) word(w uint64) uint64 {
	return mix(g.key + (w+1)*golden)
}

// mix is SplitMix64's output function, a bijection that spreads every input bit
// over every output bit.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fill writes into p the disk's bytes from off on. A read may start and end inside
// a word, so the words at either end are encoded aside and cut to fit.
func (g generator) fill(p []byte, off int64) {
	var word [8]byte
	w := uint64(off / 8)
	if into := off % 8; into != 0 {
		binary.LittleEndian.PutUint64(word[:], g.word(w))
		n := copy(p, word[into:])
		p, w = p[n:], w+1
	}
	whole := len(p) &^ 7
	for i := 0; i < whole; i, w = i+8, w+1 {
		binary.LittleEndian.PutUint64(p[i:], g.word(w))
	}
	if whole < len(p) {
		binary.LittleEndian.PutUint64(word[:], g.word(w))
		copy(p[whole:], word[:])
	}
}

// mismatch returns the offset of the first byte of the length bytes at off that
// differs from want, or -1 if none does. A nil want stands for zeroes.
func (g generator) mismatch(want []byte, off, length int64) int64 {
	var expected, got [8]byte
	for pos, end := off, off+length; pos < end; {
		into := pos % 8
		n := min(8-into, end-pos)
		binary.LittleEndian.PutUint64(expected[:], g.word(uint64(pos/8)))
		clear(got[:])
		if want != nil {
			copy(got[:n], want[pos-off:])
		}
		// Whole words compare as integers, the rest byte by byte.
		if binary.LittleEndian.Uint64(got[:]) != binary.LittleEndian.Uint64(expected[:]) || n < 8 {
			for i := range n {
				if got[i] != expected[into+i] {
					return pos + i
				}
			}
		}
		pos += n
	}
	return -1
}
