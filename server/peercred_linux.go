package server

import (
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// peerCred asks the kernel who is at the other end of a Unix socket.
func peerCred(c net.Conn) *PeerCred {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *PeerCred
	rc.Control(func(fd uintptr) {
		u, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return
		}
		cred = &PeerCred{PID: int(u.Pid), UID: int(u.Uid), GID: int(u.Gid)}
		// ENOPROTOOPT when no security module labels sockets.
		if label, err := unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_PEERSEC); err == nil {
			cred.SecurityLabel = strings.TrimRight(label, "\x00")
		}
	})
	return cred
}
