// Package exitlast is gonbd's exitlast filter, after nbdkit's: it shuts the server down
// when the last client disconnects. It never does so before the first client has
// connected, so a server may wait as long as it takes for its first client.
//
// As in nbdkit, a client counts once it opens an export (NBD_OPT_GO, or NBD_OPT_INFO
// before it): probes that connect and leave, and clients that only list the exports,
// do not count. It counts until its connection closes. When the count falls back to
// zero the filter asks the server to shut down, as SIGTERM would: gonbd then exits
// with status 0.
//
// From the command line:
//
//	gonbd --filter=exitlast file disk.img
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package exitlast
