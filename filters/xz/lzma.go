package xz

import (
	"errors"
	"fmt"
)

// This file decodes the LZMA chunks of LZMA2 (see lzma2.go), the compression of xz
// blocks, straight into the block's output buffer: a block starts with a dictionary reset and is decompressed whole, so
// the output written so far is the dictionary, and a match is a copy within it. That,
// and a range decoder kept in local variables, make it several times faster than a
// streaming decoder with a circular dictionary.
//
// The algorithm is the one of Igor Pavlov's LZMA specification (lzma-specification.txt
// in the LZMA SDK); LZMA2's chunk framing is described in XZ Utils' documentation.

const (
	probBits     = 11
	probInit     = 1 << (probBits - 1)
	probMoveBits = 5
	rangeTop     = 1 << 24

	numStates     = 12
	maxPosBits    = 4
	lenLowBits    = 3
	lenMidBits    = 3
	lenHighBits   = 8
	lenLowSyms    = 1 << lenLowBits
	lenMidSyms    = 1 << lenMidBits
	minMatchLen   = 2
	lenToPosState = 4
	posSlotBits   = 6
	endPosModel   = 14
	fullDistances = 1 << (endPosModel >> 1)
	alignBits     = 4
	maxLitProbs   = 0x300 << 4 // lc + lp ≤ 4 in LZMA2
)

var (
	errCorrupt       = errors.New("corrupt LZMA2 data")
	errLZMA2Overflow = errors.New("the LZMA2 data decompresses to more than the block's uncompressed size")
)

// lenDecoder decodes match lengths (minus minMatchLen).
type lenDecoder struct {
	choice, choice2 uint16
	low             [1 << maxPosBits][lenLowSyms]uint16
	mid             [1 << maxPosBits][lenMidSyms]uint16
	high            [1 << lenHighBits]uint16
}

// lzmaState is the adaptive model of an LZMA stream: its probabilities, and the state
// and recent distances that the next symbols depend on.
type lzmaState struct {
	lc, lp, pb uint

	state                  uint32
	rep0, rep1, rep2, rep3 uint32

	isMatch    [numStates << maxPosBits]uint16
	isRep      [numStates]uint16
	isRepG0    [numStates]uint16
	isRepG1    [numStates]uint16
	isRepG2    [numStates]uint16
	isRep0Long [numStates << maxPosBits]uint16
	posSlot    [lenToPosState][1 << posSlotBits]uint16
	posSpecial [1 + fullDistances - endPosModel]uint16
	align      [1 << alignBits]uint16
	matchLen   lenDecoder
	repLen     lenDecoder
	literal    [maxLitProbs]uint16
}

// reset sets every probability to one half and the state to its start.
func (s *lzmaState) reset() {
	s.state, s.rep0, s.rep1, s.rep2, s.rep3 = 0, 0, 0, 0, 0
	for _, p := range [][]uint16{s.isMatch[:], s.isRep[:], s.isRepG0[:], s.isRepG1[:], s.isRepG2[:],
		s.isRep0Long[:], s.posSpecial[:], s.align[:], s.literal[:]} {
		for i := range p {
			p[i] = probInit
		}
	}
	for i := range s.posSlot {
		for j := range s.posSlot[i] {
			s.posSlot[i][j] = probInit
		}
	}
	for _, l := range []*lenDecoder{&s.matchLen, &s.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range l.low {
			for j := range l.low[i] {
				l.low[i][j] = probInit
			}
			for j := range l.mid[i] {
				l.mid[i][j] = probInit
			}
		}
		for i := range l.high {
			l.high[i] = probInit
		}
	}
}

// setProps sets lc, lp and pb from LZMA2's properties byte.
func (s *lzmaState) setProps(b byte) error {
	if b >= 9*5*5 {
		return fmt.Errorf("%w: bad properties byte %#x", errCorrupt, b)
	}
	s.lc, s.lp, s.pb = uint(b%9), uint(b/9%5), uint(b/45)
	if s.lc+s.lp > 4 {
		return fmt.Errorf("%w: lc + lp is more than 4", errCorrupt)
	}
	return nil
}

// rangeDecoder reads the range coder's input, a chunk's compressed bytes.
type rangeDecoder struct {
	in        []byte
	pos       int
	rng, code uint32
	overread  bool // pos went past the end of in
}

// init starts decoding in, whose first five bytes start the range coder.
func (rc *rangeDecoder) init(in []byte) error {
	if len(in) < 5 || in[0] != 0 {
		return fmt.Errorf("%w: bad range coder start", errCorrupt)
	}
	rc.in, rc.pos, rc.overread = in, 5, false
	rc.rng = 0xffffffff
	rc.code = uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	if rc.code == rc.rng {
		return fmt.Errorf("%w: bad range coder start", errCorrupt)
	}
	return nil
}

// normalize shifts the next input byte into the code once the range is too narrow.
// Past the end of the input it shifts in zeroes and notes it: the chunk is then
// corrupt, which the caller checks once at its end rather than at every bit.
func (rc *rangeDecoder) normalize() {
	rc.rng <<= 8
	rc.code = rc.code<<8 | rc.nextByte()
}

// bit decodes one bit with probability *p and adapts it. Like every decoding method
// here, it normalizes before decoding rather than after, as the LZMA SDK does; finish
// does the last normalization.
func (rc *rangeDecoder) bit(p *uint16) uint32 {
	if rc.rng < rangeTop {
		rc.normalize()
	}
	bound := (rc.rng >> probBits) * uint32(*p)
	if rc.code < bound {
		rc.rng = bound
		*p += (1<<probBits - *p) >> probMoveBits
		return 0
	}
	rc.rng -= bound
	rc.code -= bound
	*p -= *p >> probMoveBits
	return 1
}

// finish does the normalization the last bit left pending, after which a chunk's
// input must be consumed exactly.
func (rc *rangeDecoder) finish() {
	if rc.rng < rangeTop {
		rc.normalize()
	}
}

// The bit tree decoders below are the hottest loops: they repeat bit's code with the
// range and code in local variables, which the compiler keeps in registers, rather
// than call it (it is too large to be inlined).

// tree decodes a symbol of n bits with the bit tree probs (1<<n entries).
func (rc *rangeDecoder) tree(probs []uint16, n uint) uint32 {
	rng, code := rc.rng, rc.code
	m := uint32(1)
	for range n {
		if rng < rangeTop {
			rng, code = rng<<8, code<<8|rc.nextByte()
		}
		p := &probs[m]
		bound := (rng >> probBits) * uint32(*p)
		if code < bound {
			rng = bound
			*p += (1<<probBits - *p) >> probMoveBits
			m <<= 1
		} else {
			rng -= bound
			code -= bound
			*p -= *p >> probMoveBits
			m = m<<1 | 1
		}
	}
	rc.rng, rc.code = rng, code
	return m - 1<<n
}

// literal decodes a byte with the 0x300 literal probabilities probs. After a match,
// match is the byte at rep0 (else a negative number): it guides the decoding of the
// first bits, as long as they agree with it.
func (rc *rangeDecoder) literal(probs []uint16, match int) byte {
	rng, code := rc.rng, rc.code
	probs = probs[:0x300]
	sym := uint32(1)
	if match >= 0 {
		mb := uint32(match)
		for sym < 0x100 {
			matchBit := (mb >> 7) & 1
			mb <<= 1
			if rng < rangeTop {
				rng, code = rng<<8, code<<8|rc.nextByte()
			}
			p := &probs[(1+matchBit)<<8+sym]
			bound := (rng >> probBits) * uint32(*p)
			var b uint32
			if code < bound {
				rng = bound
				*p += (1<<probBits - *p) >> probMoveBits
			} else {
				rng -= bound
				code -= bound
				*p -= *p >> probMoveBits
				b = 1
			}
			sym = sym<<1 | b
			if matchBit != b {
				break
			}
		}
	}
	for sym < 0x100 {
		if rng < rangeTop {
			rng, code = rng<<8, code<<8|rc.nextByte()
		}
		p := &probs[sym]
		bound := (rng >> probBits) * uint32(*p)
		if code < bound {
			rng = bound
			*p += (1<<probBits - *p) >> probMoveBits
			sym <<= 1
		} else {
			rng -= bound
			code -= bound
			*p -= *p >> probMoveBits
			sym = sym<<1 | 1
		}
	}
	rc.rng, rc.code = rng, code
	return byte(sym)
}

// nextByte returns the next input byte for a normalization done by the caller.
func (rc *rangeDecoder) nextByte() uint32 {
	var b byte
	if rc.pos < len(rc.in) {
		b = rc.in[rc.pos]
	} else {
		rc.overread = true
	}
	rc.pos++
	return uint32(b)
}

// reverseTree decodes a symbol of n bits, least significant first.
func (rc *rangeDecoder) reverseTree(probs []uint16, n uint) uint32 {
	m, sym := uint32(1), uint32(0)
	for i := range n {
		b := rc.bit(&probs[m])
		m = m<<1 | b
		sym |= b << i
	}
	return sym
}

// direct decodes n bits of probability one half.
func (rc *rangeDecoder) direct(n uint) uint32 {
	var res uint32
	for range n {
		if rc.rng < rangeTop {
			rc.normalize()
		}
		rc.rng >>= 1
		rc.code -= rc.rng
		t := 0 - (rc.code >> 31)
		rc.code += rc.rng & t
		res = res<<1 + t + 1
	}
	return res
}

// length decodes a match length, minus minMatchLen.
func (rc *rangeDecoder) length(l *lenDecoder, posState uint32) uint32 {
	if rc.bit(&l.choice) == 0 {
		return rc.tree(l.low[posState][:], lenLowBits)
	}
	if rc.bit(&l.choice2) == 0 {
		return lenLowSyms + rc.tree(l.mid[posState][:], lenMidBits)
	}
	return lenLowSyms + lenMidSyms + rc.tree(l.high[:], lenHighBits)
}

// decodeChunk decodes one LZMA chunk of compressed bytes in into out[pos:end],
// where out[dictStart:pos] is the dictionary, and returns the new position.
func (s *lzmaState) decodeChunk(rc *rangeDecoder, out []byte, dictStart, pos, end int) (int, error) {
	pbMask := uint32(1)<<s.pb - 1
	lpMask := uint32(1)<<s.lp - 1
	lc := s.lc
	state, rep0, rep1, rep2, rep3 := s.state, s.rep0, s.rep1, s.rep2, s.rep3
	defer func() { s.state, s.rep0, s.rep1, s.rep2, s.rep3 = state, rep0, rep1, rep2, rep3 }()

	for pos < end {
		total := uint32(pos - dictStart) // bytes since the dictionary reset
		posState := total & pbMask
		if rc.bit(&s.isMatch[state<<maxPosBits+posState]) == 0 {
			// A literal, coded in the context of the previous byte.
			var prev uint32
			if pos > dictStart {
				prev = uint32(out[pos-1])
			}
			probs := s.literal[0x300*((total&lpMask)<<lc+prev>>(8-lc)):]
			match := -1
			if state >= 7 {
				// After a match, the byte at rep0 guides the decoding.
				if int(rep0) >= pos-dictStart {
					return pos, fmt.Errorf("%w: distance beyond the dictionary", errCorrupt)
				}
				match = int(out[pos-int(rep0)-1])
			}
			sym := rc.literal(probs, match)
			out[pos] = byte(sym)
			pos++
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			continue
		}

		var n uint32
		if rc.bit(&s.isRep[state]) != 0 {
			if pos == dictStart {
				return pos, fmt.Errorf("%w: a repeated match before any data", errCorrupt)
			}
			if rc.bit(&s.isRepG0[state]) == 0 {
				if rc.bit(&s.isRep0Long[state<<maxPosBits+posState]) == 0 {
					// A single byte from rep0.
					if int(rep0) >= pos-dictStart {
						return pos, fmt.Errorf("%w: distance beyond the dictionary", errCorrupt)
					}
					if state < 7 {
						state = 9
					} else {
						state = 11
					}
					out[pos] = out[pos-int(rep0)-1]
					pos++
					continue
				}
			} else {
				var dist uint32
				if rc.bit(&s.isRepG1[state]) == 0 {
					dist = rep1
				} else {
					if rc.bit(&s.isRepG2[state]) == 0 {
						dist = rep2
					} else {
						dist = rep3
						rep3 = rep2
					}
					rep2 = rep1
				}
				rep1 = rep0
				rep0 = dist
			}
			n = rc.length(&s.repLen, posState)
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
		} else {
			rep3, rep2, rep1 = rep2, rep1, rep0
			n = rc.length(&s.matchLen, posState)
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
			rep0 = rc.distance(s, n)
			if rep0 == 0xffffffff {
				return pos, fmt.Errorf("%w: an end marker, which LZMA2 does not allow", errCorrupt)
			}
		}
		n += minMatchLen
		if int(rep0) >= pos-dictStart {
			return pos, fmt.Errorf("%w: distance beyond the dictionary", errCorrupt)
		}
		if int(n) > end-pos {
			return pos, errLZMA2Overflow
		}
		copyMatch(out, pos, int(rep0)+1, int(n))
		pos += int(n)
	}
	return pos, nil
}

// distance decodes the distance of a match of length n (minus minMatchLen).
func (rc *rangeDecoder) distance(s *lzmaState, n uint32) uint32 {
	slot := rc.tree(s.posSlot[min(n, lenToPosState-1)][:], posSlotBits)
	if slot < 4 {
		return slot
	}
	direct := uint(slot>>1) - 1
	dist := (2 | slot&1) << direct
	if slot < endPosModel {
		return dist + rc.reverseTree(s.posSpecial[dist-slot:], direct)
	}
	dist += rc.direct(direct-alignBits) << alignBits
	return dist + rc.reverseTree(s.align[:], alignBits)
}

// copyMatch copies n bytes from dist bytes back to out[pos:], where the source may
// overlap the destination (a run).
func copyMatch(out []byte, pos, dist, n int) {
	src := pos - dist
	if dist >= n {
		copy(out[pos:pos+n], out[src:src+n])
		return
	}
	// Overlapping: the copy repeats the last dist bytes; double the copied length
	// each round.
	for n > 0 {
		k := copy(out[pos:pos+min(n, pos-src)], out[src:pos])
		pos += k
		n -= k
	}
}
