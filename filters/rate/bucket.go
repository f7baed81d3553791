package rate

import (
	"sync"
	"time"
)

// A bucket is a token bucket of bits: it fills at a rate up to a capacity, and a
// request takes its size from it, waiting for what is missing. Its zero value is
// empty; it starts full the first time it is used, so that an idle connection's first
// burst goes at once, as nbdkit's buckets do.
type bucket struct {
	mu     sync.Mutex
	level  float64 // bits available
	last   time.Time
	primed bool
}

// take takes up to n bits at rate bits per second, with room for burstiness seconds
// of them, and returns the bits still missing and how long they take to come. A
// caller waits that long (or less) and calls take again for the rest.
func (b *bucket) take(n float64, rate uint64, burstiness float64, now time.Time) (missing float64, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	capacity := float64(rate) * burstiness
	if !b.primed {
		b.level, b.last, b.primed = capacity, now, true
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.level = min(b.level+elapsed.Seconds()*float64(rate), capacity)
		b.last = now
	}
	if b.level >= n {
		b.level -= n
		return 0, 0
	}
	missing = n - b.level
	b.level = 0
	return missing, time.Duration(missing / float64(rate) * float64(time.Second))
}
