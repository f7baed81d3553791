// Package mapfilter is gonbd's map filter: it sends ranges of the export to other
// offsets of the plugin, so that a disk can be served with parts swapped, repeated or
// moved, without copying anything. (The package is not called map, which is a Go
// keyword; the filter is, on the command line.)
//
// The export is as large as the plugin. Every byte goes to the same offset of the
// plugin, except those of the ranges that mappings send elsewhere; where mappings
// overlap, the later one wins. Two ranges may be sent to the same place of the plugin,
// which then appears twice in the export (writing one changes both).
//
// Mappings come from map= parameters, in order. Each map= is either the name of a map
// file or one mapping written inline, START-END:DEST or START,LENGTH:DEST. A map file
// holds one mapping per line:
//
//	# Swap the first two mebibytes of the disk.
//	0,1M      1M       # START,LENGTH DEST
//	1M-2097151 0       # START-END DEST, END inclusive
//	4M-       8M       # START- DEST: from START to the end of the export
//
// Blank lines and everything after # are ignored. Numbers are sizes as nbdkit writes
// them (4096, 64k, 1M, 2G, 1s for a 512-byte sector) or hexadecimal (0x100000). A
// mapping whose range goes past the end of the export, or whose destination goes past
// the end of the plugin, is an error when a client opens the export (only then are
// the sizes known); so is one not aligned to the plugin's minimum block size.
//
// Block status is translated too: clients see which of the mapped ranges are holes.
//
// From the command line:
//
//	gonbd --filter=map file disk.img map=swap.map
//	gonbd --filter=map file disk.img map=0-511:1048576 map=1048576-1049087:0
//
// From Go, [New] wraps a layer with a list of [Mapping]s, which [ParseMapping],
// [ReadMappings] and [ParseParam] make. [Spec] is what the gonbd command links.
package mapfilter
