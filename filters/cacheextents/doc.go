// Package cacheextents is gonbd's cacheextents filter, after nbdkit's: it remembers the
// last answer the plugin gave to a block status (extents) request and answers later
// requests inside it without asking the plugin again.
//
// From the command line:
//
//	gonbd -U - --filter=cacheextents --run 'qemu-img map $nbd' PLUGIN ...
//
// It helps clients that walk a disk asking for one extent at a time (qemu-img convert,
// qemu-img map) in front of plugins for which one question costs the same whatever the
// number of extents in the answer. Each connection keeps its own last answer, asked of
// the plugin without the client's one-extent restriction; a write, trim or zero on any
// connection makes every connection's answer stale.
//
// Programs that embed the server put the filter in front of a layer with [New]:
//
//	layer := cacheextents.New(next)
//
// [Spec] is what the gonbd command links to offer the filter by name.
package cacheextents
