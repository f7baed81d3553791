package stats

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// report writes the statistics in nbdkit's layout: a total line, then for each kind
// of request that happened a line of counts and rates and, unless threshold is 0, the
// histogram of sizes and alignments. Errors are w's to keep (a bufio.Writer's).
func (f *filter) report(w io.Writer, elapsed time.Duration) {
	var totalOps, totalBytes uint64
	for _, s := range f.all() {
		s.mu.Lock()
		// As in nbdkit, cache requests do not count in the total, and of the
		// others only the bytes of data requests (not block status) do.
		if s != &f.cache {
			totalOps += s.ops
		}
		if s == &f.read || s == &f.write || s == &f.trim || s == &f.zero {
			totalBytes += s.bytes
		}
		s.mu.Unlock()
	}
	secs := elapsed.Seconds()
	fmt.Fprintf(w, "total: %d ops, %.6f s, %s, %s/s\n", totalOps, secs, humanSize(totalBytes), humanRate(totalBytes, secs))
	for _, s := range f.all() {
		s.mu.Lock()
		f.reportOp(w, s, secs)
		s.mu.Unlock()
	}
}

// reportOp writes the lines of one kind of request; s.mu is held.
func (f *filter) reportOp(w io.Writer, s *opStat, elapsed float64) {
	if s.ops == 0 {
		return
	}
	// Microseconds, as nbdkit measures: a kind that took none has no rate.
	usecs := s.time.Microseconds()
	opRate := "(n/a)"
	if usecs > 0 {
		opRate = humanRate(s.bytes, float64(usecs)/1e6)
	}
	fmt.Fprintf(w, "%s: %d ops, %.6f s, %s, %s/s op, %s/s total\n",
		s.name, s.ops, float64(usecs)/1e6, humanSize(s.bytes), opRate, humanRate(s.bytes, elapsed))
	if f.threshold <= 0 || s == &f.flush {
		return
	}
	fmt.Fprintf(w, "  Request size and alignment breakdown:\n")
	type class struct {
		bits  int
		count uint64
	}
	var classes []class
	for size := range s.count {
		var n uint64
		for _, c := range s.count[size] {
			n += c
		}
		if n > 0 {
			classes = append(classes, class{size, n})
		}
	}
	// The most frequent sizes first; among equals, the larger.
	slices.SortFunc(classes, func(a, b class) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(b.bits, a.bits))
	})
	total := float64(s.ops)
	limit := uint64(total * f.threshold) // the requests the histogram must account for
	var shown, shownBytes uint64
	for _, c := range classes {
		if shown >= limit {
			fmt.Fprintf(w, "    other sizes: %4.1f%% (%d reqs, %s total)\n",
				100*float64(s.ops-shown)/total, s.ops-shown, humanSize(s.bytes-shownBytes))
			break
		}
		fmt.Fprintf(w, "    %2d bits: %4.1f%% (%d reqs, %s total)\n",
			c.bits, 100*float64(c.count)/total, c.count, humanSize(s.sizeBytes[c.bits]))
		f.reportAlignment(w, &s.count[c.bits], c.count)
		shown += c.count
		shownBytes += s.sizeBytes[c.bits]
	}
	fmt.Fprintln(w)
}

// reportAlignment writes, for the requests of one size class, how many are aligned to
// at least each number of bits that occurs, from the lowest, until the rest is
// within the threshold: that rest gets one "N+" line.
func (f *filter) reportAlignment(w io.Writer, aligns *[zeroOffsetAlign + 1]uint64, n uint64) {
	var below uint64 // requests aligned to fewer bits than the current line
	for a, c := range aligns[:zeroOffsetAlign] {
		if c == 0 {
			continue
		}
		atLeast := n - below
		if float64(below)/float64(n) > f.threshold {
			fmt.Fprintf(w, "         %2d+ bit-aligned: %4.1f%% (%d)\n", a, 100*float64(atLeast)/float64(n), atLeast)
			return
		}
		fmt.Fprintf(w, "         %2d bit aligned: %5.1f%% (%d)\n", a, 100*float64(atLeast)/float64(n), atLeast)
		below += c
	}
}

// humanSize writes a byte count as nbdkit does: bytes, or KiB, MiB or GiB with two
// decimals.
func humanSize(n uint64) string {
	const (
		kiB = 1 << 10
		miB = 1 << 20
		giB = 1 << 30
	)
	switch {
	case n < kiB:
		return fmt.Sprintf("%d bytes", n)
	case n < miB:
		return fmt.Sprintf("%.2f KiB", float64(n)/kiB)
	case n < giB:
		return fmt.Sprintf("%.2f MiB", float64(n)/miB)
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/giB)
}

// humanRate writes bytes per secs seconds as humanSize does.
func humanRate(bytes uint64, secs float64) string {
	if secs <= 0 {
		return humanSize(0)
	}
	return humanSize(uint64(float64(bytes) / secs))
}
