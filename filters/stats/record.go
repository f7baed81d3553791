package stats

import (
	"math/bits"
	"sync"
	"time"
)

// zeroOffsetAlign is the alignment recorded for offset 0, which is aligned to every
// power of two: it counts as aligned at every level and has no line of its own.
const zeroOffsetAlign = 64

// An opStat accumulates the requests of one kind: how many, their bytes, the time
// spent in the layers behind, and how many fell in each size and alignment class.
// Fixed arrays rather than maps keep recording free of allocations.
type opStat struct {
	name string

	mu    sync.Mutex
	ops   uint64
	bytes uint64
	time  time.Duration
	// count[s][a] is how many requests of size class s (2^s to 2^(s+1)-1 bytes) had
	// an offset with a trailing zero bits; sizeBytes[s] their bytes.
	count     [64][zeroOffsetAlign + 1]uint64
	sizeBytes [64]uint64
}

// record adds a request of length bytes at off that took d. Requests without a
// length (flush) have no size class.
func (s *opStat) record(length uint64, off uint64, d time.Duration, sized bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	s.bytes += length
	s.time += d
	if !sized || length == 0 {
		return
	}
	size := bits.Len64(length) - 1
	s.count[size][bits.TrailingZeros64(off)]++
	s.sizeBytes[size] += length
}
