// Package offset is gonbd's offset filter, after nbdkit's: it serves a byte range of the
// next layer, [offset, offset+range), as a whole export. Every request and every extent
// is shifted by the offset. It is an error for the range to run past the end of the
// layer behind; the truncate filter changes sizes instead.
//
// From the command line:
//
//	gonbd --filter=offset file disk.img offset=1M range=100M
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package offset
