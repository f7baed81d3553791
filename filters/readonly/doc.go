// Package readonly is gonbd's readonly filter, after nbdkit's: it makes an export
// read-only, either always or, with readonly-file=PATH, for as long as a file exists.
//
// Without readonly-file the plugin is opened read-only (as gonbd -r would open it, but
// for this stack alone) and clients see a read-only export. With readonly-file the
// export stays writable as far as clients can tell, and the filter checks for the file
// at every write, trim and zero: while the file exists they fail with EPERM, and once it
// is gone they succeed again. This lets a supervisor freeze a disk at run time, for
// example while it takes a backup, without disconnecting anyone.
//
// From the command line:
//
//	gonbd --filter=readonly file disk.img
//	gonbd --filter=readonly file disk.img readonly-file=/run/disk.frozen
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package readonly
