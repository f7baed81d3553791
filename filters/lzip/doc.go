// Package lzip is gonbd's lzip filter: it serves the decompressed contents of an lzip
// file (.lz) that the plugin serves, read-only, with random access.
//
// From the command line:
//
//	gonbd --filter=lzip file disk.img.lz
//	gonbd --filter=lzip file disk.img.lz lzip-max-depth=32
//
// An lzip file is a sequence of members, each a header, an LZMA stream and a trailer
// that gives the member's size, the size of its data and their CRC32. The filter reads
// the trailers from the end of the file to index the members without decompressing
// anything; a read then decompresses only the members it touches, whole, and checks
// their CRC32. The most recently used members are kept in a cache that every
// connection shares (Options.MaxDepth).
//
// Random access is only as fine as the members: compress with `lzip -b SIZE` (member
// size) or `plzip`, or concatenate lzip files, to make a file with many members. A
// file of one member is decompressed whole for the first read.
//
// Damaged files fail: a file whose members do not chain from its end (truncated, or
// with data after the last member) is refused when a client connects, and a member
// whose stream does not decode or whose CRC32 does not match fails the read with EIO.
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package lzip
