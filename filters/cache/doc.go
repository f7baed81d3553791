// Package cache is gonbd's cache filter, after nbdkit's: it keeps the plugin's data in
// a local temporary file, so that repeated reads and, in writeback mode, writes do not
// reach a slow or expensive plugin.
//
// From the command line:
//
//	gonbd --filter=cache PLUGIN ...
//	gonbd --filter=cache PLUGIN cache=writethrough cache-on-read=true
//	gonbd --filter=cache PLUGIN cache-max-size=1G cache-high-threshold=95 cache-low-threshold=80
//
// The cache works in blocks (64 KiB by default) held in a file made in $TMPDIR
// (/var/tmp when unset) whose name is removed at once. A block is absent (the plugin has
// its data), clean (the cache holds the plugin's data) or dirty (the cache holds data
// the plugin has not received yet). Writes go into the cache; in writeback mode they
// stay there, dirty, until a flush or a FUA write; in writethrough mode they go to the
// plugin at once as well; unsafe mode ignores flushes. Reads of cached blocks come from
// the file; with cache-on-read the blocks read from the plugin are kept. A cache
// request (prefetch) fills the cache. All connections share the cache.
//
// With cache-max-size the least recently used blocks are dropped once the cache passes
// the high threshold, until it is under the low one; dirty ones are written back first.
//
// Programs that embed the server put the filter in front of a layer with [New]:
//
//	f, err := cache.New(next, cache.Options{Mode: cache.Writethrough}, logger)
//
// [Spec] is what the gonbd command links to offer the filter by name.
package cache
