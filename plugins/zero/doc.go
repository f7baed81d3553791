// Package zero is gonbd's empty disk plugin, after nbdkit's zero plugin: it serves a
// read-only disk of zero bytes, for testing the corner cases of servers, filters, the
// NBD protocol and clients.
//
// From the command line:
//
//	gonbd zero
//
// The plugin takes no parameters and refuses any. (Despite the name, it is not a disk
// of zeroes: that is the null plugin.)
//
// Programs that embed the server make the plugin with [New]:
//
//	layer := server.PluginLayer("zero", zero.New())
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package zero
