package evil

import (
	"math"
	"sync/atomic"
)

// Kinds of random streams, so that the streams of different uses never coincide.
const (
	streamCosmicRays = iota + 1
	streamStuckBits
	streamStuckWires
	streamShow
)

// blockBits is the granularity of the stuck-bits and stuck-wires maps: the stuck bits
// of each 4 KiB block are drawn from a stream of their own, so that finding those of a
// read costs time in proportion to the blocks it covers, wherever they are.
const blockBits = 4096 * 8

// A corrupter damages read buffers as a mode says.
type corrupter struct {
	mode        Mode
	p, logq     float64 // the probability of a bit being corrupted, and log(1-p)
	stuckP      float64 // the probability a read sees a stuck bit
	seed        uint64
	reads       atomic.Uint64 // numbers reads, for the streams that change at each
	corruptions atomic.Uint64 // bits changed so far, for tests and curiosity
}

func newCorrupter(o Options) *corrupter {
	return &corrupter{mode: o.Mode, p: o.Probability, logq: math.Log1p(-o.Probability),
		stuckP: o.StuckProbability, seed: o.Seed}
}

// corrupt damages buf, which was read at off.
func (c *corrupter) corrupt(buf []byte, off int64) {
	if c.p <= 0 || len(buf) == 0 {
		return
	}
	read := c.reads.Add(1)
	switch c.mode {
	case CosmicRays:
		c.cosmicRays(buf, read)
	case StuckBits:
		c.stuck(buf, uint64(off)*8, streamStuckBits, read)
	case StuckWires:
		c.stuck(buf, 0, streamStuckWires, read)
	}
}

// cosmicRays flips bits at random, anew at each read.
func (c *corrupter) cosmicRays(buf []byte, read uint64) {
	r := newRNG(c.seed, streamCosmicRays, read)
	n := uint64(len(buf)) * 8
	flipped := uint64(0)
	for pos := r.gap(c.p, c.logq); pos < n; pos += 1 + r.gap(c.p, c.logq) {
		buf[pos/8] ^= 1 << (pos % 8)
		flipped++
	}
	c.corruptions.Add(flipped)
}

// stuck forces the stuck bits that fall in buf to their stuck values. The bits are
// fixed in a space of bit addresses where buf starts at base: the disk's for stuck
// bits (base is the read's offset), the read's own for stuck wires (base is 0).
func (c *corrupter) stuck(buf []byte, base uint64, stream uint64, read uint64) {
	show := newRNG(c.seed, streamShow, read)
	end := base + uint64(len(buf))*8
	changed := uint64(0)
	for block := base / blockBits; block*blockBits < end; block++ {
		r := newRNG(c.seed, stream, block)
		for pos := r.gap(c.p, c.logq); pos < blockBits; pos += 1 + r.gap(c.p, c.logq) {
			high := r.next()&1 == 1 // drawn for every stuck bit, to keep the stream
			bit := block*blockBits + pos
			if bit < base || bit >= end {
				continue
			}
			if c.stuckP < 1 && show.float() >= c.stuckP {
				continue
			}
			i, mask := (bit-base)/8, byte(1)<<((bit-base)%8)
			old := buf[i]
			if high {
				buf[i] |= mask
			} else {
				buf[i] &^= mask
			}
			if buf[i] != old {
				changed++
			}
		}
	}
	c.corruptions.Add(changed)
}
