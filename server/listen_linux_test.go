package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dialVsockLocal connects to port on this machine's vsock loopback, or skips the test
// when the kernel cannot (no vsock_loopback module).
func dialVsockLocal(t *testing.T, port uint32) net.Conn {
	t.Helper()
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no vsock client socket: %v", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_LOCAL, Port: port}); err != nil {
		unix.Close(fd)
		t.Skipf("this kernel cannot connect to vsock loopback (is vsock_loopback loaded?): %v", err)
	}
	f := os.NewFile(uintptr(fd), "vsock-client")
	return &fileConn{r: f, w: f, local: VsockAddr{}, remote: VsockAddr{CID: unix.VMADDR_CID_LOCAL, Port: port}}
}

// listenVsockOrSkip listens on a vsock port the kernel chooses, or skips the test
// when the kernel has no vsock at all.
func listenVsockOrSkip(t *testing.T) net.Listener {
	t.Helper()
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("this kernel has no vsock (socket(AF_VSOCK) failed: %v)", err)
	}
	unix.Close(fd)
	ln, err := ListenVsock(VsockPortAny)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestListenVsock(t *testing.T) {
	ln := listenVsockOrSkip(t)
	addr, ok := ln.Addr().(VsockAddr)
	if !ok || addr.Port == VsockPortAny {
		t.Fatalf("Addr() = %v, want the port the kernel chose", ln.Addr())
	}

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client := dialVsockLocal(t, addr.Port)
	defer client.Close()
	var s net.Conn
	select {
	case s = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
	}
	if s == nil {
		t.Fatal("accept failed")
	}
	defer s.Close()
	if s.RemoteAddr().Network() != "vsock" {
		t.Errorf("RemoteAddr %v, want a vsock address", s.RemoteAddr())
	}
	client.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	testDeadline(t, s)
}

// TestListenVsockCloseInterruptsAccept checks that Close ends a blocked Accept with
// net.ErrClosed, which servers take for a shutdown rather than a failure.
func TestListenVsockCloseInterruptsAccept(t *testing.T) {
	ln := listenVsockOrSkip(t)
	done := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Accept")
	}
}
