// Package protect is gonbd's protect filter, after nbdkit's: it write-protects ranges of
// the plugin while the export as a whole stays writable. A write, trim or zero that
// would change a protected byte fails with EPERM and changes nothing; one that leaves
// the protected bytes as they are (writing the same data, zeroing zeroes) passes. Reads
// are not affected.
//
// One use is keeping clients from adding a phony header that makes the data look like
// another disk format (a qcow2 header, say), which has been used in exploits.
//
// From the command line:
//
//	gonbd --filter=protect file disk.img protect=0-0x1bd          # the boot code
//	gonbd --filter=protect file disk.img protect=~1048576-2097151 # all but a partition
//
// From Go, [New] wraps a layer with the [Range] values [ParseRange] returns. [Spec] is
// what the gonbd command links.
package protect
