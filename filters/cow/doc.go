// Package cow is gonbd's copy-on-write filter, after nbdkit's cow filter: it makes any
// plugin writable, read-only ones included, by keeping every change in a temporary
// overlay file, and never writes to the plugin. The changes are thrown away when the
// server exits.
//
// From the command line:
//
//	gonbd --filter=cow file disk.img
//	gonbd --filter=cow --filter=xz file disk.xz cow-on-read=true
//
// The overlay records changes in blocks of cow-block-size bytes (64 KiB by default). A
// read merges the overlay and the plugin: changed blocks come from the overlay file,
// zeroed and trimmed ones read as zeroes, the others come from the plugin. A write of a
// whole block goes straight to the overlay; a partial one reads the block (from the
// overlay or the plugin), patches it and writes it back, under a lock of that block so
// that concurrent partial writes all land. Zeroing whole blocks only marks them, without
// reading the plugin. Every connection sees the same overlay, so the filter advertises
// multi-conn.
//
// The overlay file is made in $TMPDIR (/var/tmp when unset) and its name removed at
// once: it is sparse, takes only the space of the changed blocks, and goes away with
// the process however it ends.
//
// Programs that embed the server put the filter in front of a layer with [New]:
//
//	f, err := cow.New(next, cow.Options{BlockSize: 1 << 20})
//
// [Spec] is what the gonbd command links to offer the filter by name.
package cow
