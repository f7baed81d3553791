package sparserandom

// The plugin's randomness is SplitMix64's: fast, statistically sound, not secret.
// Its n-th output is a function of n alone, which lets any block or word of the disk
// be computed on its own.

// golden is SplitMix64's increment, 2⁶⁴ divided by the golden ratio.
const golden = 0x9e3779b97f4a7c15

// mix is SplitMix64's output function, a bijection that spreads every input bit over
// every output bit.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// nth returns the n-th output of the SplitMix64 stream keyed by key.
func nth(key, n uint64) uint64 { return mix(key + (n+1)*golden) }

// A stream is a SplitMix64 generator, for the layout, whose runs are drawn in order.
type stream struct{ state uint64 }

func (s *stream) next() uint64 {
	s.state += golden
	return mix(s.state)
}

// float returns a number in (0, 1], never 0, so that its logarithm is finite.
func (s *stream) float() float64 {
	return float64(s.next()>>11+1) * 0x1p-53
}
