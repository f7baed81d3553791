// Package tlsfallback is gonbd's tls-fallback filter, after nbdkit's: on a server where
// TLS is allowed but not required (--tls=on), it serves the layers behind it to clients
// in TLS only. A plaintext client, whatever export it names, gets one read-only export
// of 512 bytes holding a message (by default, that the server requires TLS), and its
// export list holds that export alone; nothing behind the filter is opened or listed for
// it. This is a gentler failure than --tls=require for clients that do not speak TLS.
//
// From the command line, first in the stack so that no other filter works for
// plaintext clients:
//
//	gonbd --tls=on --filter=tls-fallback PLUGIN [PLUGIN-ARGS...] [tlsreadme=MESSAGE]
//
// From Go, [New] wraps a layer:
//
//	layer := tlsfallback.New(next, tlsfallback.Options{Message: "Use TLS.\n"})
//
// The filter tells the connections apart by [server.ConnInfo].TLS. It refuses to start
// when the layers behind it serve one connection at a time, since a plaintext client
// holding its connection would lock out the clients in TLS.
//
// [Spec] is what the gonbd command links to offer the filter by name.
package tlsfallback
