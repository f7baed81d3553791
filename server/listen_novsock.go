//go:build !linux

package server

import (
	"errors"
	"net"
)

// ListenVsock would listen on an AF_VSOCK port; vsock is supported on Linux only.
func ListenVsock(port uint32) (net.Listener, error) {
	return nil, errors.New("listen: vsock is supported on Linux only")
}
