package sparserandom

import "encoding/binary"

// contents computes what data blocks hold. By default, as in nbdkit, each data block
// is one random non-zero byte repeated, which is fast to make and to check; with
// random-content every byte is random. Either way the bytes depend on the seed and
// their place alone, like the layout.
type contents struct {
	key    uint64
	random bool // random-content=true
}

func newContents(seed uint32, random bool) contents {
	return contents{key: mix(uint64(seed) ^ 0x636f6e74656e74), random: random} // "content"
}

// blockByte returns the byte that fills data block b, never 0: a data block must not
// read as a hole.
func (c contents) blockByte(b int64) byte {
	if v := byte(nth(c.key, uint64(b))); v != 0 {
		return v
	}
	return 1
}

// word returns the w-th 8-byte word of the disk's data with random-content.
func (c contents) word(w int64) uint64 { return nth(c.key, uint64(w)) }

// fill writes into p the data bytes from off on, as if all of p lay in data blocks.
func (c contents) fill(p []byte, off int64) {
	if c.random {
		c.fillRandom(p, off)
		return
	}
	for len(p) > 0 {
		b := off / blockSize
		n := min(int64(len(p)), (b+1)*blockSize-off)
		fillByte(p[:n], c.blockByte(b))
		p, off = p[n:], off+n
	}
}

// fillByte sets every byte of p to v, doubling what is set with copy, which moves
// whole words where a loop over bytes would not.
func fillByte(p []byte, v byte) {
	if len(p) == 0 {
		return
	}
	p[0] = v
	for done := 1; done < len(p); done *= 2 {
		copy(p[done:], p[:done])
	}
}

// fillRandom writes the random words into p from off on. A read may start and end
// inside a word, so the words at either end are encoded aside and cut to fit.
func (c contents) fillRandom(p []byte, off int64) {
	var word [8]byte
	w := off / 8
	if into := off % 8; into != 0 {
		binary.LittleEndian.PutUint64(word[:], c.word(w))
		n := copy(p, word[into:])
		p, w = p[n:], w+1
	}
	whole := len(p) &^ 7
	for i := 0; i < whole; i, w = i+8, w+1 {
		binary.LittleEndian.PutUint64(p[i:], c.word(w))
	}
	if whole < len(p) {
		binary.LittleEndian.PutUint64(word[:], c.word(w))
		copy(p[whole:], word[:])
	}
}

// mismatch returns the index in p of the first byte that is not the data at off,
// or -1 if p holds the data, as if all of p lay in data blocks.
func (c contents) mismatch(p []byte, off int64) int {
	var expected [8]byte
	for i := 0; i < len(p); {
		pos := off + int64(i)
		if !c.random {
			b := pos / blockSize
			n := int(min(int64(len(p)-i), (b+1)*blockSize-pos))
			if j := indexNot(p[i:i+n], c.blockByte(b)); j >= 0 {
				return i + j
			}
			i += n
			continue
		}
		into := int(pos % 8)
		n := min(8-into, len(p)-i)
		binary.LittleEndian.PutUint64(expected[:], c.word(pos/8))
		for j := range n {
			if p[i+j] != expected[into+j] {
				return i + j
			}
		}
		i += n
	}
	return -1
}

// indexNot returns the index of the first byte of p that is not v, or -1.
func indexNot(p []byte, v byte) int {
	for i, b := range p {
		if b != v {
			return i
		}
	}
	return -1
}
