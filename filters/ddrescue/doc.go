// Package ddrescue is gonbd's ddrescue filter, after nbdkit's: it serves a disk image
// recovered with GNU ddrescue(1) and makes reads of the blocks the mapfile does not mark
// as finished ('+') fail with EIO, as they would on the failing disk, instead of returning
// the zeroes the image holds there. That shows which files or file system structures are
// damaged, and lets fsck try its hand. The export is read-only.
//
// From the command line:
//
//	gonbd --filter=ddrescue file disk.img ddrescue-mapfile=disk.map
//
// From Go, [ParseMapfile] reads a mapfile and [New] wraps a layer with its rescued
// ranges. [Spec] is what the gonbd command links.
package ddrescue
