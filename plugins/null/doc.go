// Package null is gonbd's bitbucket plugin, after nbdkit's null plugin: a disk of any
// size that reads as zeroes and discards whatever is written to it.
//
// From the command line:
//
//	gonbd null 1G
//	gonbd null size=$((2**63 - 1))
//
// Every request succeeds and does nothing, as fast as it can: reads clear the
// server's buffer, and writes, zeroes, trims, flushes and cache requests return at
// once. Block status reports the whole disk as one hole that reads as zeroes. That
// makes the plugin the floor of any benchmark — what the server costs with no storage
// behind it — and a sink for testing clients. Most programs that write to a disk and
// expect to read it back will be confused by it.
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := null.New(null.Options{Size: 1 << 30})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("null", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package null
