package info

import (
	"net"

	"github.com/gonbd/gonbd/server"
)

// addressText formats the client's address as nbdkit's info plugin does: host and
// port for TCP (IPv6 hosts in brackets), "unix" for a Unix socket, whose path would
// only reveal the server's file system, and "CID:PORT" for vsock. Anything else (a
// connection on standard input, say) is named by its network.
func addressText(conn server.ConnInfo) string {
	switch addr := conn.Remote.(type) {
	case *net.TCPAddr:
		return addr.String()
	case *net.UnixAddr:
		return "unix"
	case server.VsockAddr:
		return addr.String()
	default:
		return addr.Network()
	}
}
