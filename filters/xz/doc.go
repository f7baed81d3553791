// Package xz is gonbd's xz filter, after nbdkit's: it serves the uncompressed contents
// of an xz file that the plugin behind it serves, read-only.
//
//	gonbd --filter=xz file disk.img.xz
//	gonbd --filter=xz curl https://example.com/disk.img.xz xz-max-depth=16
//
// An xz file is seekable at block boundaries: its index, at the end of each stream,
// lists every block's compressed and uncompressed sizes. The filter reads the indexes
// of every stream (concatenated files, with or without padding between them), and a
// read decompresses the blocks it touches, whole. A cache of the xz-max-depth most
// recently used blocks (8 by default), shared by every connection, keeps them for the
// reads that follow, so the memory used is at most xz-max-depth times the largest
// block. Files with a block larger than xz-max-block (512 MiB by default) are refused.
// For fast random access, compress with small blocks:
//
//	xz --block-size=16MiB disk.img
//
// A file made of a single block (what xz makes without --block-size or threads) is
// served, with a warning: each read that misses the cache decompresses from its start.
//
// The package decodes LZMA2 itself, straight into each block's output buffer, which is
// the dictionary: no circular buffer, and a match is a copy within one slice.
//
// Every block is verified as it is decompressed: its header's CRC32 and sizes against
// the index, the end of its LZMA2 data, its padding and its check (CRC32, CRC64 or
// SHA-256). A block that fails fails the reads of it with EIO; the others still read.
// Only the LZMA2 filter is supported, which is what xz uses unless told otherwise
// (--x86, --delta and the other filters are refused, with their ID in the error).
//
// Programs that embed the server use [New]; [Spec] is what the gonbd command links.
package xz
