// Package readahead is gonbd's readahead filter, after nbdkit's: when a client reads
// sequentially, it reads ahead of it in ever larger pieces, so that a plugin for which
// each request is costly (remote, compressed) sees few, large reads.
//
// From the command line:
//
//	gonbd --filter=readahead PLUGIN ...
//
// Each read that misses the connection's buffer is served by one read of the plugin
// covering the request and a window after it, which is kept in the buffer for the reads
// to come. The window starts at 64 KiB ([MinWindow]), doubles each time the client reads
// on from where it stopped, up to 4 MiB ([MaxWindow]), and falls back to 64 KiB when the
// client reads elsewhere. A write, trim or zero on any connection makes every buffer
// stale, so reads never return data older than a change made through the server.
//
// Programs that embed the server put the filter in front of a layer with [New]:
//
//	layer := readahead.New(next)
//
// [Spec] is what the gonbd command links to offer the filter by name.
package readahead
