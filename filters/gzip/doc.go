// Package gzip is gonbd's gzip filter, after nbdkit's: it serves the uncompressed
// contents of a gzip file that the plugin behind it serves, read-only.
//
//	gonbd --filter=gzip file disk.img.gz
//	gonbd --filter=gzip curl https://example.com/disk.raw.gz
//
// Where nbdkit's filter decompresses the whole file into a temporary file before it
// serves anything, this one keeps an index, as zlib's zran example does: while it
// decompresses the stream once, it notes a restart point every few megabytes (the
// bit position in the compressed stream and the 32 KiB of data before it), so that a
// read later decompresses at most one span, from the nearest restart point. No
// temporary file is written; the index costs 32 KiB of memory per span (8 MiB for a
// 1 GiB image with the default 4 MiB spans), and a cache of recently decompressed
// spans (64 MiB by default) is shared by every connection.
//
// The size of the uncompressed data is known only once the whole stream has been
// decompressed, so clients wait for that pass: it starts when the server gets ready,
// for the default export, before any client connects. It verifies each member's
// CRC-32 and length; a file that fails is not served at all. Later decompressions are
// checked against a CRC-32 of each span kept in the index, so a file that changes
// underneath fails reads with EIO rather than return other data.
//
// Concatenated gzip members are one stream, as gzip(1) reads them. Blocks of 64 KiB
// that hold only zeroes are noted too: reads of them decompress nothing, and they are
// reported to clients as zero extents, which lets copying tools skip them.
//
// Programs that embed the server use [New]; [Spec] is what the gonbd command links.
package gzip
