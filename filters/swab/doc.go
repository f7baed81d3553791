// Package swab is gonbd's swab filter, after nbdkit's: it swaps the order of the bytes
// of each 16-, 32- or 64-bit word of the plugin's data, on reads and writes. It reads
// disks whose controller was wired in reverse (the Atari Falcon's IDE), and turns
// big-endian patterns little-endian.
//
// Requests must be aligned to the word: the filter advertises the word as the minimum
// block size, and refuses unaligned requests with EINVAL. Put the blocksize filter in
// front of it for byte-level access. The size is rounded down to whole words.
//
// From the command line:
//
//	gonbd --filter=swab file disk.img                # swap pairs of bytes
//	gonbd --filter=swab pattern 1M swab-bits=64
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package swab
