// Package blocksizepolicy is gonbd's blocksize-policy filter, after nbdkit's: it sets the
// block size constraints advertised to clients (minimum, preferred, maximum) for
// plugins that advertise none or the wrong ones, and chooses what happens to requests
// that break them: passed on to the plugin (allow) or refused with EINVAL (error).
//
// From the command line:
//
//	gonbd --filter=blocksize-policy memory 1G blocksize-preferred=32K
//	gonbd --filter=blocksize-policy --filter=blocksize PLUGIN blocksize-minimum=64K minblock=64K
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package blocksizepolicy
