//go:build !linux

package server

import "net"

// peerCred returns nil: only Linux's credentials are read.
func peerCred(net.Conn) *PeerCred { return nil }
