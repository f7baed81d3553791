// Package blocksize is gonbd's blocksize filter, after nbdkit's: it keeps the requests
// that reach the plugin aligned to a minimum block size and within maximum lengths,
// whatever clients send. Unaligned reads are widened through a bounce buffer; the
// unaligned ends of writes and zeroes are read, modified and written back under a lock
// shared by every connection; the unaligned ends of trims are dropped; large requests
// are split. The size is rounded down to the block size.
//
// From the command line:
//
//	gonbd --filter=blocksize vddk minblock=512 file=/path/to/file.vmdk
//	gonbd --filter=blocksize nbd maxdata=32M socket=/path/to/socket
//	gonbd --filter=blocksize --filter=truncate file disk.img minblock=4k round-up=4k
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package blocksize
