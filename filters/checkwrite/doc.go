// Package checkwrite is gonbd's checkwrite filter, after nbdkit's: it turns every write
// into a check that the plugin already holds what is written. A write, trim or zero
// that matches (trims and zeroes match zeroes) succeeds and does nothing; one that does
// not fails with EIO. The plugin is opened read-only and never written, so even a
// read-only plugin looks writable.
//
// Its use is testing copying tools: copy an export onto itself through the filter, and
// any byte the tool gets wrong is an error.
//
//	gonbd -U - --filter=checkwrite file disk.img --run 'nbdcopy "$uri" "$uri"'
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package checkwrite
