// Package count is gonbd's count filter, after nbdkit's: it counts the bytes that
// clients read, write, zero and trim through it, and reports the totals when the server
// shuts down, as one line on standard error:
//
//	count: read 1048576 bytes, written 65536 bytes, zeroed 0 bytes, trimmed 4096 bytes
//
// and as an info-level log record with the attributes read, written, zeroed and
// trimmed. Only requests that succeed are counted, with the lengths the clients asked
// for (a zero of 1 GiB counts 1 GiB zeroed, however the plugin does it).
//
// From the command line:
//
//	gonbd --filter=count file disk.img
//
// From Go, [New] wraps a layer with [Options]; [Filter.Totals] reads the counters at any
// time. [Spec] is what the gonbd command links.
package count
