// Package errorfilter is gonbd's error filter, after nbdkit's: it fails requests on
// purpose, at random or all of them, to test how clients cope with errors.
//
// From the command line:
//
//	gonbd --filter=error file disk.img error-rate=1%
//	gonbd --filter=error file disk.img error=ENOSPC error-pwrite-rate=100% error-zero-rate=100%
//	gonbd --filter=error file disk.img error-rate=100% error-file=/tmp/inject
//
// error= chooses the error (EIO by default), error-rate= how often it happens (never by
// default), and error-file= limits it to the times when a file exists. Each has a
// variant for one kind of request only: error-pread, error-pwrite, error-trim,
// error-zero, error-extents and error-cache, each with -rate and -file. Parameters
// apply in command-line order, a later one overriding an earlier one. Rates of 0% and
// 100% are exact; between them each request is drawn at random.
//
// The package is named errorfilter because error is Go's built-in error type. From
// Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command links.
package errorfilter
