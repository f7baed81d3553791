// Package nozero is gonbd's nozero filter, after nbdkit's: it disables or changes how
// zero requests (NBD_CMD_WRITE_ZEROES) and fast zero requests are handled, so that
// clients must write zeroes themselves, or zeroing is done by plain writes, or the
// may-trim and fast-zero flags are dropped or refused. It is for measuring what
// efficient zeroing gains and for testing fallbacks in clients and servers.
//
// From the command line:
//
//	gonbd --filter=nozero file disk.img                      # no zeroing at all
//	gonbd --filter=nozero file disk.img zeromode=emulate     # zero by writing
//	gonbd --filter=nozero file disk.img zeromode=plugin fastzeromode=none
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package nozero
