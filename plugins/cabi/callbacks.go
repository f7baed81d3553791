//go:build cgo && unix

package cabi

// The Go side of the nbdkit_* functions that need more than C knows: logging,
// parsing sizes the server's way, and the connection's peer and control. C passes
// the cgo.Handle of the *Library or *conn the current callback is for.

/*
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
*/
import "C"

import (
	"encoding/binary"
	"net"
	"runtime/cgo"
	"unsafe"

	"github.com/gonbd/gonbd/server"
)

//export cabiLog
func cabiLog(h C.uintptr_t, msg *C.char) {
	if l, ok := cgo.Handle(h).Value().(*Library); ok {
		l.logger.Load().Debug(C.GoString(msg))
	}
}

//export cabiParseSize
func cabiParseSize(s *C.char) (C.int64_t, *C.char) {
	n, err := server.ParseSize(C.GoString(s))
	if err != nil {
		return -1, C.CString(err.Error())
	}
	return C.int64_t(n), nil
}

//export cabiStdioSafe
func cabiStdioSafe(h C.uintptr_t) C.int {
	if l, ok := cgo.Handle(h).Value().(*Library); ok && l.opts.StdioUnsafe {
		return 0
	}
	return 1
}

//export cabiShutdown
func cabiShutdown(h C.uintptr_t) {
	switch v := cgo.Handle(h).Value().(type) {
	case *conn:
		server.Shutdown(v.ctx)
	case *Library:
		if ctx := v.ready.Load(); ctx != nil {
			server.Shutdown(*ctx)
		}
	}
}

//export cabiDisconnect
func cabiDisconnect(h C.uintptr_t, force C.int) {
	if c, ok := cgo.Handle(h).Value().(*conn); ok {
		server.Disconnect(c.ctx, force != 0)
	}
}

//export cabiPeerCred
func cabiPeerCred(h C.uintptr_t, which C.int) C.int64_t {
	c, ok := cgo.Handle(h).Value().(*conn)
	if !ok || c.info.Peer == nil {
		return -1
	}
	switch which {
	case 0:
		return C.int64_t(c.info.Peer.PID)
	case 1:
		return C.int64_t(c.info.Peer.UID)
	default:
		return C.int64_t(c.info.Peer.GID)
	}
}

//export cabiPeerName
func cabiPeerName(h C.uintptr_t, addr *C.struct_sockaddr, addrlen *C.socklen_t) C.int {
	c, ok := cgo.Handle(h).Value().(*conn)
	if !ok {
		return -1
	}
	sa := sockaddr(c.info.Remote)
	if sa == nil {
		return -1
	}
	// As getpeername(2): copy what fits, say how long the address is.
	n := min(len(sa), int(*addrlen))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(addr)), n), sa)
	*addrlen = C.socklen_t(len(sa))
	return 0
}

// sockaddr encodes a as a struct sockaddr_in, sockaddr_in6 or sockaddr_un (Linux
// layout), or returns nil.
func sockaddr(a net.Addr) []byte {
	const afUnix, afInet, afInet6 = 1, 2, 10
	switch a := a.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			b := make([]byte, 16)
			binary.NativeEndian.PutUint16(b, afInet)
			binary.BigEndian.PutUint16(b[2:], uint16(a.Port))
			copy(b[4:], ip4)
			return b
		}
		b := make([]byte, 28)
		binary.NativeEndian.PutUint16(b, afInet6)
		binary.BigEndian.PutUint16(b[2:], uint16(a.Port))
		copy(b[8:], a.IP.To16())
		if a.Zone != "" {
			if ifi, err := net.InterfaceByName(a.Zone); err == nil {
				binary.NativeEndian.PutUint32(b[24:], uint32(ifi.Index))
			}
		}
		return b
	case *net.UnixAddr:
		b := make([]byte, 2+len(a.Name)+1)
		binary.NativeEndian.PutUint16(b, afUnix)
		copy(b[2:], a.Name)
		return b
	}
	return nil
}
