// Package truncate is gonbd's truncate filter, after nbdkit's: it changes the size of the
// next layer. It can make it smaller (truncate=SIZE), larger (the extra bytes read as
// zeroes and may only be written with zeroes, else ENOSPC), or round its size up or down
// to a multiple of a power of 2, for clients that cannot handle sizes that are not a
// multiple of 512, or to reach the last bytes of a file behind the blocksize filter.
//
// From the command line:
//
//	gonbd --filter=truncate file disk.img truncate=10G
//	gonbd --filter=truncate file disk.img round-up=512
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package truncate
