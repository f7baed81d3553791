// Package info is gonbd's plugin that serves information about the client and the
// server as a disk, after nbdkit's info plugin. It is a test plugin: the disk is
// read-only, and what it holds depends on the mode.
//
//	gonbd info                       # the export name the client asked for
//	gonbd info base64exportname      # the export name, decoded from base64
//	gonbd info address               # the client's address, as text
//	gonbd info time                  # the server's wall-clock time
//	gonbd info uptime                # the time since the server started
//	gonbd info conntime              # the time since the connection was accepted
//
// With the default mode a client that opens the export "hello" reads a disk of 5
// bytes, "hello": a reflection. With base64exportname it can send any bytes, a small
// bootable disk image for instance. The time modes serve 12 bytes, seconds as a
// big-endian 64-bit integer then microseconds as a big-endian 32-bit integer, read
// afresh by each request, to measure latency.
//
// Programs that embed the server make the plugin with [New]:
//
//	plugin, err := info.New(info.Options{Mode: info.ModeAddress})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("info", plugin)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package info
