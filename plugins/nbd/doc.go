// Package nbd is gonbd's proxy plugin, after nbdkit's nbd plugin: it forwards every
// client's requests to another NBD server, through the pure-Go client of
// github.com/gonbd/gonbd/protocol/client. Put in front of a server, it adds what that
// server lacks (gonbd's filters, another transport, the other handshake) without
// changing it.
//
// From the command line:
//
//	gonbd nbd nbd+unix:///disk?socket=/run/qemu-nbd.sock
//	gonbd nbd hostname=example.com port=10809 export=disk tls=require
//	gonbd --filter=partition nbd command=qemu-nbd arg=-f arg=qcow2 arg=$PWD/disk.qcow2 partition=1
//
// The server is named by exactly one of uri= (the magic key: nbd://, nbds://,
// nbd+unix://, nbds+unix://), socket=, hostname= with port=, socket-fd= (an inherited
// connected socket) or command= with arg= (a server run as a child, given a listening
// socket by systemd's socket activation protocol, as qemu-nbd, nbdkit and gonbd accept).
//
// Each client connection gets a connection of its own to the server, opened when the
// client connects; with shared=true (implied by command= and socket-fd=) every client
// uses one connection, opened at start-up. Many requests are in flight at once on
// each connection. retry=N tries connecting N more times, a second apart.
//
// The export's capabilities are the server's: writing, flush, trim, zero, fast zero,
// native FUA, multi-conn, cache, rotational, block size constraints, description and
// base:allocation block status. Requests pass on with their flags, and the server's
// errors reach the client with the same errno. A connection to the server that breaks
// makes that client's later requests fail with EIO; a client connecting afterwards gets
// a new connection (unless shared).
//
// By default every client sees the export named by export= (or the URI). With
// dynamic-export=true each client gets the export of the name it asked for, and the
// export list is the server's.
//
// tls=on or tls=require encrypts the connection to the server with X.509 certificates
// from tls-certificates=DIR (ca-cert.pem, client-cert.pem, client-key.pem);
// tls-verify=false skips the check of the server's certificate. TLS-PSK (tls-psk=,
// tls-username=) and vsock servers (vsock=, nbd+vsock://) are refused: the Go client
// cannot do them.
//
// Programs that embed the server make the plugin with [New]:
//
//	proxy, err := nbd.New(nbd.Options{Socket: "/run/qemu-nbd.sock", Shared: true})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("nbd", proxy)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package nbd
