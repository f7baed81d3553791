// Package fua is gonbd's fua filter, after nbdkit's: it changes how Forced Unit Access
// (FUA) and flush requests are advertised and carried out. It can hide FUA so that
// clients flush instead, emulate it with flushes, pass it on natively, force it on every
// write (write-through), or throw FUA and flush away for speed on data nobody needs to
// survive a crash.
//
// From the command line:
//
//	gonbd --filter=fua file disk.img                    # fuamode=none: no FUA
//	gonbd --filter=fua file disk.img fuamode=force      # write-through
//	gonbd --filter=fua file disk.img fuamode=discard    # unsafe, fast
//
// From Go, [New] wraps a layer with a [Mode]. [Spec] is what the gonbd command links.
package fua
