// Package stats is gonbd's stats filter, after nbdkit's: it counts the requests that
// pass through it on every connection (how many of each kind, their bytes, the time
// the layers behind took) and, when the server exits, writes the totals to a file in
// nbdkit's layout, with histograms of request sizes and offset alignments.
//
// From the command line:
//
//	gonbd --filter=stats memory 25G statsfile=stats.txt
//	gonbd --filter=stats file disk.img statsfile=stats.txt statsappend=true statsthreshold=99
//
// Sizes are grouped by the number of bits below the highest set one (a request of
// 3892 bytes falls with those of 2048 to 4095 bytes, "11 bits"), alignments by the
// trailing zero bits of the offset. statsthreshold (95 by default) is the percentage
// of requests the histograms account for before lumping the rest together; 0 leaves
// them out.
//
// From Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command links.
package stats
