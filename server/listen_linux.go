package server

import (
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenVsock listens on AF_VSOCK port, for every context ID of this machine (nbdkit
// --vsock -p PORT), so that virtual machines can reach a server on their host. Port
// [VsockPortAny] lets the kernel choose; the listener's Addr says which.
func ListenVsock(port uint32) (net.Listener, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("listen: vsock: %w", os.NewSyscallError("socket", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen: vsock port %d: %w", port, os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen: vsock port %d: %w", port, os.NewSyscallError("listen", err))
	}
	addr, err := vsockName(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen: vsock port %d: %w", port, err)
	}
	// The net package wraps only the families it knows, so the socket becomes a file,
	// which the runtime polls because it is non-blocking.
	f := os.NewFile(uintptr(fd), "vsock:"+addr.String())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("listen: vsock port %d: %w", port, err)
	}
	return &vsockListener{f: f, rc: rc, addr: addr}, nil
}

// vsockListener accepts AF_VSOCK connections through the runtime's poller.
type vsockListener struct {
	f      *os.File
	rc     syscall.RawConn
	addr   VsockAddr
	closed atomic.Bool
}

func (l *vsockListener) Accept() (net.Conn, error) {
	var (
		fd        int
		sa        unix.Sockaddr
		acceptErr error
	)
	err := l.rc.Read(func(lfd uintptr) bool {
		fd, sa, acceptErr = unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return acceptErr != unix.EAGAIN
	})
	if err == nil {
		err = acceptErr
	}
	if err != nil {
		if l.closed.Load() {
			// Servers look for net.ErrClosed to tell a shutdown from a failure; the
			// poller's own error for a closed file is not exported.
			err = net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: "vsock", Addr: l.addr, Err: err}
	}
	var remote VsockAddr
	if vm, ok := sa.(*unix.SockaddrVM); ok {
		remote = VsockAddr{CID: vm.CID, Port: vm.Port}
	}
	local, err := vsockName(fd)
	if err != nil {
		local = l.addr
	}
	f := os.NewFile(uintptr(fd), "vsock:"+remote.String())
	return &fileConn{r: f, w: f, local: local, remote: remote}, nil
}

func (l *vsockListener) Close() error {
	l.closed.Store(true)
	return l.f.Close()
}

func (l *vsockListener) Addr() net.Addr { return l.addr }

// vsockName returns the local address of a vsock socket.
func vsockName(fd int) (VsockAddr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return VsockAddr{}, os.NewSyscallError("getsockname", err)
	}
	vm, ok := sa.(*unix.SockaddrVM)
	if !ok {
		return VsockAddr{}, fmt.Errorf("getsockname: not a vsock address: %T", sa)
	}
	return VsockAddr{CID: vm.CID, Port: vm.Port}, nil
}
