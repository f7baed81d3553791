// Package bzip2 is gonbd's bzip2 filter: it serves the decompressed contents of a
// bzip2 file (.bz2) that the plugin serves, read-only, with random access.
//
// From the command line:
//
//	gonbd --filter=bzip2 file disk.img.bz2
//	gonbd --filter=bzip2 file disk.img.bz2 bzip2-max-depth=64
//
// A bzip2 file is one or more streams (pbzip2 and lbzip2 write many), each a header,
// blocks of at most 900 kB of (run-length encoded) data, and an end-of-stream marker
// with a CRC of the blocks' CRCs. Blocks start at any bit, marked by a 48-bit magic
// number, and can be decompressed on their own; but nothing in the file says where
// they are or how much data each holds. So the filter indexes the file, in the
// background from GetReady on (or when the first client connects, if that failed): it finds every magic number, decodes every block once (on
// all cores) to learn its size, and checks that the streams, blocks and CRCs chain
// from the start of the file to its end. A read then decompresses only the blocks it
// touches, each checked against its CRC by compress/bzip2, and the most recently used
// blocks are kept in a cache that every connection shares (Options.MaxDepth).
//
// A magic number can also appear by chance inside compressed data: the index tells
// the real block boundaries from such matches by which ones decode.
//
// Damaged files fail: a file that is truncated, has data after its last stream, or
// has a block or stream CRC that does not match is refused when a client connects,
// with EIO; a block that no longer decodes once indexed fails the read with EIO.
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package bzip2
