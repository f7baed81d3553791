// Package scan is gonbd's scan filter, after nbdkit's: while clients are connected to
// the default export, it prefetches the whole disk in the background, so that a client
// that will read most of it sequentially finds it warm.
//
// From the command line:
//
//	gonbd --filter=scan PLUGIN ...
//	gonbd --filter=scan --filter=cache PLUGIN scan-forever=true
//
// Each connection to the default export runs a scanner that sends cache (prefetch)
// requests of scan-size bytes (2 MiB by default) to the plugin, or reads and discards
// the data when the plugin cannot prefetch. The scanners share one position, so that
// several connections scan the disk once between them. With scan-ahead (the default)
// a client read past the position moves it past the read; with scan-clock (the
// default) a client that connects after all had gone resumes where the scan stopped;
// with scan-forever the scan starts over at the end. A scanner stops when its
// connection ends, and never runs over a plugin that cannot serve requests in
// parallel.
//
// Programs that embed the server put the filter in front of a layer with [New]:
//
//	f, err := scan.New(next, scan.DefaultOptions(), logger)
//
// [Spec] is what the gonbd command links to offer the filter by name.
package scan
