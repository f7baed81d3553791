package sparserandom

import (
	"math"
	"sync/atomic"
)

// blockSize is the unit of the layout: each block of the disk is all data or all
// hole, as in nbdkit.
const blockSize = 4096

// The layout of the disk — which blocks hold data — is a Markov chain of runs, as in
// nbdkit: runs of data and runs of holes alternate, each with a length in blocks
// drawn from a geometric distribution, of mean runLength for data and of the mean
// that makes data the requested share of the disk for holes.
//
// nbdkit draws the chain for the whole disk at start-up, into a bitmap of a bit per
// block. Here the disk is cut into superblocks, each drawing its own chain from the
// seed and its index, which makes start-up instant, lets the disk be any size, and
// keeps memory to the few superblocks in use. A superblock starts in a data run with
// probability percent/100, which (the geometric distribution having no memory) is
// exactly the chance at any block of an endless chain; superblocks hold hundreds of
// runs, so cutting runs at their edges changes little.
type layout struct {
	key          uint64  // keys each superblock's stream
	share        float64 // the share of data, 0 to 1
	meanData     float64 // mean length of a data run, in blocks (≥ 1)
	meanHole     float64 // mean length of a hole run, in blocks (≥ 1)
	blocks       int64   // blocks in the disk, the last one maybe short
	size         int64   // bytes in the disk
	superShift   uint    // a superblock is 1<<superShift blocks
	recentSupers [superblockCache]atomic.Pointer[superblock]
}

const (
	// superblockRuns is about how many runs of data and holes a superblock holds.
	superblockRuns = 512
	// minSuperShift makes superblocks at least 16 MiB, so that short runs do not
	// make a read or a block status request visit many.
	minSuperShift = 12
	// maxSuperShift keeps byte offsets within a superblock below 2⁶².
	maxSuperShift = 50
	// superblockCache is how many recently used superblocks are kept, in slots
	// chosen by index: enough for several clients reading different parts.
	superblockCache = 16
)

// A superblock is the runs of data of one superblock, made once and then only read.
type superblock struct {
	index int64
	end   int64 // the block after its last, which the disk's end may bring closer
	// runs are the data runs, in increasing order, as blocks [start, end) of the
	// disk; everything between them is hole.
	runs []run
}

type run struct{ start, end int64 }

func newLayout(size int64, seed uint32, percent float64, runLength int64) *layout {
	l := &layout{
		key:      mix(uint64(seed) ^ 0x6c61796f7574), // "layout", to tell it from the contents
		share:    percent / 100,
		meanData: max(1, float64(runLength)/blockSize),
		blocks:   size / blockSize,
		size:     size,
	}
	if size%blockSize != 0 {
		l.blocks++
	}
	l.superShift = maxSuperShift
	if l.share > 0 && l.share < 1 {
		l.meanHole = max(1, l.meanData*(1-l.share)/l.share)
		wanted := superblockRuns / 2 * (l.meanData + l.meanHole)
		l.superShift = uint(min(max(math.Ceil(math.Log2(wanted)), minSuperShift), maxSuperShift))
	}
	return l
}

// offset returns the byte offset of block b, which may be the disk's end.
func (l *layout) offset(b int64) int64 {
	if b >= l.blocks {
		return l.size
	}
	return b * blockSize
}

// superblock returns superblock k, from the cache if it is there.
func (l *layout) superblock(k int64) *superblock {
	slot := &l.recentSupers[k%superblockCache]
	if sb := slot.Load(); sb != nil && sb.index == k {
		return sb
	}
	// Two requests may both make a missing superblock; they make the same one, and
	// the one stored last stays.
	sb := l.draw(k)
	slot.Store(sb)
	return sb
}

// draw makes superblock k from the seed.
func (l *layout) draw(k int64) *superblock {
	start := k << l.superShift
	sb := &superblock{index: k, end: min(start+1<<l.superShift, l.blocks)}
	switch {
	case l.share <= 0:
		return sb
	case l.share >= 1:
		sb.runs = []run{{start, sb.end}}
		return sb
	}
	rng := stream{state: nth(l.key, uint64(k))}
	inData := rng.float() <= l.share
	for pos := start; pos < sb.end; inData = !inData {
		mean := l.meanHole
		if inData {
			mean = l.meanData
		}
		end := sb.end
		if n := geometric(&rng, mean); n < end-pos {
			end = pos + n
		}
		if inData {
			sb.runs = append(sb.runs, run{pos, end})
		}
		pos = end
	}
	return sb
}

// geometric draws a run length of at least 1 from the geometric distribution of the
// given mean (≥ 1): the number of blocks until a run ends, when it ends after each
// block with probability 1/mean.
func geometric(rng *stream, mean float64) int64 {
	u := rng.float()
	if mean <= 1 {
		return 1
	}
	n := 1 + math.Floor(math.Log(u)/math.Log1p(-1/mean))
	if n >= 1<<62 { // far past any superblock's end; also catches +Inf
		return 1 << 62
	}
	return int64(n)
}

// A cursor walks the layout from a block on, one run (or part of a run) at a time.
type cursor struct {
	l   *layout
	sb  *superblock
	i   int   // the first run of sb that ends after pos
	pos int64 // the next block
}

func (l *layout) cursorAt(block int64) cursor {
	return cursor{l: l, pos: block}
}

// next returns the blocks [c.pos, end) as one run, data or hole, and moves past them.
// Runs are cut at superblock edges. It must not be called at the disk's end.
func (c *cursor) next() (end int64, data bool) {
	if c.sb == nil || c.pos >= c.sb.end {
		c.sb = c.l.superblock(c.pos >> c.l.superShift)
		c.i = firstEndingAfter(c.sb.runs, c.pos)
	}
	switch runs := c.sb.runs; {
	case c.i < len(runs) && runs[c.i].start <= c.pos:
		end, data = runs[c.i].end, true
		c.i++
	case c.i < len(runs):
		end = runs[c.i].start
	default:
		end = c.sb.end
	}
	c.pos = end
	return end, data
}

// firstEndingAfter returns the index of the first run that ends after block b, or
// len(runs) if none does.
func firstEndingAfter(runs []run, b int64) int {
	lo, hi := 0, len(runs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if runs[mid].end > b {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
