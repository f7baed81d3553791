package sparserandom

import (
	"math"
	"testing"
)

// walk returns the runs of the whole layout, merged across superblocks, as block
// ranges with their kind.
func walk(l *layout) (runs []run, data []bool) {
	c := l.cursorAt(0)
	for c.pos < l.blocks {
		start := c.pos
		end, isData := c.next()
		if n := len(runs); n > 0 && data[n-1] == isData && runs[n-1].end == start {
			runs[n-1].end = end
			continue
		}
		runs = append(runs, run{start, end})
		data = append(data, isData)
	}
	return runs, data
}

// TestLayoutStatistics checks that the layout has the shape asked for: about the
// share of data, and data runs of about the mean length, for several seeds and
// parameters. The layouts are fixed by their seeds, so the test cannot be flaky;
// the bounds are several standard deviations wide all the same.
func TestLayoutStatistics(t *testing.T) {
	tests := []struct {
		size      int64
		percent   float64
		runLength int64
	}{
		{1 << 40, 10, 16 << 20},
		{64 << 30, 50, 1 << 20},
		{64 << 30, 1, 64 << 10},
		{64 << 30, 90, 4 << 20},
		{1 << 30, 30, 4096},
	}
	for _, tt := range tests {
		for seed := range uint32(3) {
			l := newLayout(tt.size, seed, tt.percent, tt.runLength)
			runs, data := walk(l)
			var dataBlocks, dataRuns int64
			for i, r := range runs {
				if data[i] {
					dataBlocks += r.end - r.start
					dataRuns++
				}
			}
			share := float64(dataBlocks) / float64(l.blocks) * 100
			meanRun := float64(dataBlocks) / float64(dataRuns) * blockSize
			if math.Abs(share-tt.percent) > tt.percent*0.15 {
				t.Errorf("%+v seed %d: %.2f%% data, want about %v%%", tt, seed, share, tt.percent)
			}
			if math.Abs(meanRun-float64(tt.runLength)) > float64(tt.runLength)*0.15 {
				t.Errorf("%+v seed %d: data runs of %.0f bytes on average, want about %d", tt, seed, meanRun, tt.runLength)
			}
		}
	}
}

// TestLayoutWalk checks the cursor: runs cover the disk in order without gaps, kinds
// alternate once merged, and walking from any block agrees with walking from 0.
func TestLayoutWalk(t *testing.T) {
	l := newLayout(4<<30+12345, 7, 30, 256<<10)
	if l.superShift != 16 {
		// 256 data runs of 64 blocks and as many hole runs of 149⅓ need 54613
		// blocks: the next power of 2 is 2^16.
		t.Errorf("superblocks of 2^%d blocks, want 2^16", l.superShift)
	}
	runs, data := walk(l)
	if runs[0].start != 0 || runs[len(runs)-1].end != l.blocks {
		t.Fatalf("the runs cover [%d, %d), want [0, %d)", runs[0].start, runs[len(runs)-1].end, l.blocks)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].start != runs[i-1].end || data[i] == data[i-1] {
			t.Fatalf("runs %d and %d: %v %v then %v %v", i-1, i, runs[i-1], data[i-1], runs[i], data[i])
		}
	}
	isData := func(b int64) bool {
		i := firstEndingAfter(runs, b)
		return data[i]
	}
	for b := int64(0); b < l.blocks; b += 997 {
		c := l.cursorAt(b)
		end, got := c.next()
		if got != isData(b) || end <= b || isData(end-1) != got {
			t.Fatalf("from block %d: run to %d, data %v; the walk from 0 says %v", b, end, got, isData(b))
		}
	}
}

func TestLayoutExtremes(t *testing.T) {
	for _, percent := range []float64{0, 100} {
		runs, data := walk(newLayout(1<<40, 1, percent, 16<<20))
		if len(runs) != 1 || data[0] != (percent == 100) {
			t.Errorf("percent=%v: runs %v, data %v; want one run", percent, runs, data)
		}
	}
	// Runs shorter than a block are a block long: the share of data still holds.
	runs, data := walk(newLayout(1<<30, 2, 10, 100))
	var dataBlocks int64
	for i, r := range runs {
		if data[i] {
			dataBlocks += r.end - r.start
			if r.end-r.start > 20 {
				t.Fatalf("a data run of %d blocks, with runs of about 1", r.end-r.start)
			}
		}
	}
	if share := float64(dataBlocks) / (1 << 30 / blockSize); share < 0.09 || share > 0.11 {
		t.Errorf("runlength=100: %.3f of the disk is data, want about 0.1", share)
	}
}

// TestLargestDisk walks the end of a disk of 2⁶³-1 bytes, whose last block is short
// and whose block count times the block size overflows.
func TestLargestDisk(t *testing.T) {
	const size = 1<<63 - 1
	l := newLayout(size, 3, 10, 16<<20)
	if l.blocks != 1<<51 {
		t.Fatalf("%d blocks, want 2^51", l.blocks)
	}
	c := l.cursorAt(l.blocks - 1)
	end, _ := c.next()
	if end != l.blocks || l.offset(end) != size {
		t.Errorf("the last run ends at block %d (offset %d)", end, l.offset(end))
	}
}

func TestGeometric(t *testing.T) {
	rng := stream{state: 1}
	for _, mean := range []float64{1, 2, 10, 1000, 1e6} {
		var sum float64
		const n = 100000
		for range n {
			v := geometric(&rng, mean)
			if v < 1 {
				t.Fatalf("mean %v: drew %d", mean, v)
			}
			sum += float64(v)
		}
		if got := sum / n; math.Abs(got-mean) > mean*0.03 {
			t.Errorf("mean %v: drew %v on average", mean, got)
		}
	}
	if v := geometric(&stream{}, 1e300); v <= 0 {
		t.Errorf("a huge mean drew %d", v)
	}
}
