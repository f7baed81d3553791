package evil

import "math"

// rng is a SplitMix64 generator: tiny, fast, and good enough to decide which bits to
// corrupt. Its streams are keyed by a seed and an index (a block of the disk, a read),
// so that any part of a stream can be recomputed without running through the rest:
// that is what makes the corruption repeatable and independent of how reads are
// split.
type rng struct{ state uint64 }

const golden = 0x9e3779b97f4a7c15

// newRNG returns the generator of stream index of kind under seed.
func newRNG(seed uint64, kind uint64, index uint64) rng {
	return rng{state: mix(seed ^ mix(kind*golden+mix(index+golden)))}
}

// mix is SplitMix64's finalizer, a bijection that scatters the bits of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (r *rng) next() uint64 {
	r.state += golden
	return mix(r.state)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 {
	return float64(r.next()>>11) / (1 << 53)
}

// maxGap stands for "beyond any buffer": gaps are cut to it.
const maxGap = 1 << 62

// gap returns how many bits to skip before the next corrupted one, when each bit is
// corrupted independently with probability p; logq is log(1-p). The gaps follow the
// geometric distribution, so drawing them visits only the corrupted bits.
func (r *rng) gap(p, logq float64) uint64 {
	switch {
	case p >= 1:
		return 0
	case p <= 0:
		return maxGap
	}
	g := math.Log(1-r.float()) / logq // 1-float is in (0, 1]
	if g >= maxGap {
		return maxGap
	}
	return uint64(g)
}
