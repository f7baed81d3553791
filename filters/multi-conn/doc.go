// Package multiconn is gonbd's multi-conn filter, after nbdkit's: it enables, emulates
// or disables NBD_FLAG_CAN_MULTI_CONN, the promise that a flush on one connection makes
// the writes of every connection visible to all. For plugins that cannot promise it,
// the filter keeps the promise itself by replicating each flush (and each FUA request,
// turned into a flush) to every connection, and it tracks which connections are dirty
// to skip the flushes that are not needed.
//
// From the command line:
//
//	gonbd --filter=multi-conn vddk /absolute/path/to/file.vmdk
//	gonbd --filter=multi-conn file disk.img multi-conn-mode=plugin multi-conn-track-dirty=fast
//
// The filter assumes that the connections of an export share data (only caching may
// differ); it must not be used with plugins that serve separate data per connection.
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package multiconn
