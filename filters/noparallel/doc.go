// Package noparallel is gonbd's noparallel filter, after nbdkit's: it lowers the thread
// model of the stack, so that requests no longer run in parallel. It serves to measure
// what parallelism gains, to work around a plugin that claims more parallelism than it
// has, and to serve clients that send several requests at once but cannot take their
// replies out of order.
//
// From the command line:
//
//	gonbd --filter=noparallel file disk.img                          # one request at a time per connection
//	gonbd --filter=noparallel file disk.img serialize=all-requests   # one request at a time
//	gonbd --filter=noparallel file disk.img serialize=connections    # one client at a time
//
// From Go, [New] wraps a layer with the thread model to enforce. [Spec] is what the
// gonbd command links.
package noparallel
