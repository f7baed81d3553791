// Package qcow2dec is gonbd's qcow2dec filter: it decodes a qcow2 image, as QEMU makes
// them, that the plugin serves, and serves the raw virtual disk inside, read-only.
//
// From the command line:
//
//	gonbd --filter=qcow2dec file disk.qcow2
//	gonbd --filter=qcow2dec nbd uri=nbd://storage/disk.qcow2
//
// The filter reads version 2 and 3 images with any cluster size (512 bytes to 2 MiB),
// plain data clusters, zero clusters, compressed clusters (zlib, that is raw DEFLATE,
// and zstd) and extended L2 entries (subclusters, extended_l2=on). It reports holes
// from the image's tables: unallocated and zero clusters are holes that read as
// zeroes. Images with a backing file, an external data file or encryption are refused
// with a message saying so; internal snapshots are ignored (the active disk is
// served), and so are refcounts, which reading does not need.
//
// qcow2 has no checksums of data: the filter checks every table entry it uses
// (alignment, reserved bits, offsets within the file) and fails a read with EIO when
// one is wrong or when a compressed cluster does not decompress to a whole cluster,
// but it cannot tell when the bytes of an uncompressed cluster were damaged.
//
// Each connection reads the header and the L1 table and keeps its own caches of L2
// tables and of decompressed clusters (4 MiB each).
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package qcow2dec
