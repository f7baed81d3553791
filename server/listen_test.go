package server

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// roundTrip dials ln's address, writes a message and checks that the accepted side
// reads it, proving the listener really accepts.
func roundTrip(t *testing.T, ln net.Listener, network, addr string) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	s, ok := <-accepted
	if !ok {
		t.FailNow()
	}
	defer s.Close()
	if _, err := c.Write([]byte("NBDMAGIC")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "NBDMAGIC" {
		t.Fatalf("read %q, %v; want NBDMAGIC", buf, err)
	}
}

func TestListenTCPLoopback(t *testing.T) {
	lns, err := ListenTCP(context.Background(), "tcp", "127.0.0.1", "0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeAll(lns) })
	if len(lns) != 1 {
		t.Fatalf("got %d listeners for 127.0.0.1, want 1", len(lns))
	}
	roundTrip(t, lns[0], "tcp", lns[0].Addr().String())
}

func TestListenTCPWildcardFamilies(t *testing.T) {
	for _, tc := range []struct {
		network string
		want    []string // the families of the listeners, in order
	}{
		{"tcp4", []string{"0.0.0.0"}},
		{"tcp6", []string{"::"}},
	} {
		t.Run(tc.network, func(t *testing.T) {
			lns, err := ListenTCP(context.Background(), tc.network, "", "0")
			if err != nil {
				t.Skipf("no %s on this machine: %v", tc.network, err)
			}
			t.Cleanup(func() { closeAll(lns) })
			if len(lns) != len(tc.want) {
				t.Fatalf("got %d listeners, want %d", len(lns), len(tc.want))
			}
			host, _, _ := net.SplitHostPort(lns[0].Addr().String())
			if host != tc.want[0] {
				t.Errorf("listening on %s, want %s", host, tc.want[0])
			}
		})
	}
}

func TestListenTCPBothFamiliesSeparately(t *testing.T) {
	// Port 0 would give each family its own port; find one free on both.
	probe, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(probe.Addr().String())
	probe.Close()
	lns, err := ListenTCP(context.Background(), "tcp", "", port)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", port, err)
	}
	t.Cleanup(func() { closeAll(lns) })
	if len(lns) < 1 || len(lns) > 2 {
		t.Fatalf("got %d listeners, want one per family", len(lns))
	}
	roundTrip(t, lns[0], "tcp4", net.JoinHostPort("127.0.0.1", port))
	if len(lns) == 2 {
		roundTrip(t, lns[1], "tcp6", net.JoinHostPort("::1", port))
	}
}

func TestListenTCPErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := ListenTCP(ctx, "udp", "", "0"); err == nil {
		t.Error("ListenTCP(udp) succeeded")
	}
	if _, err := ListenTCP(ctx, "tcp", "127.0.0.1", "no-such-service-name"); err == nil {
		t.Error("ListenTCP with an unknown service name succeeded")
	}
	lns, err := ListenTCP(ctx, "tcp4", "127.0.0.1", "0")
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(lns)
	_, port, _ := net.SplitHostPort(lns[0].Addr().String())
	if _, err := ListenTCP(ctx, "tcp4", "127.0.0.1", port); err == nil {
		t.Error("listening twice on the same port succeeded")
	}
}

func TestListenUnixRemovesSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, ln, "unix", path)
	if _, err := ListenUnix(path); err == nil {
		t.Error("a second ListenUnix on a live socket succeeded")
	}
	ln.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

func TestListenUnixKeepsExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ln, err := ListenUnix(path); err == nil {
		ln.Close()
		t.Fatal("ListenUnix over an existing file succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("existing file changed: %q, %v", b, err)
	}
}

func TestListenTempUnix(t *testing.T) {
	ln, path, err := ListenTempUnix()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket directory %s: mode %v, %v; want private", dir, fi.Mode(), err)
	}
	roundTrip(t, ln, "unix", path)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s still there after Close: %v", dir, err)
	}
}

// TestStdioConnPipes serves a connection over two pipes, as `gonbd -s` does when its
// parent gives it pipes.
func TestStdioConnPipes(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inW.Close(); outR.Close() })
	c, err := StdioConn(inR, outW)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := inW.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(outR, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("peer read %q, %v", buf, err)
	}
	if c.RemoteAddr().Network() != "stdio" {
		t.Errorf("RemoteAddr network %q, want stdio", c.RemoteAddr().Network())
	}
	testDeadline(t, c)
}

// TestStdioConnSocket serves a connection over a socket on standard input, as inetd
// and libnbd's [ CMD ] syntax give it.
func TestStdioConnSocket(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := server.(*net.UnixConn).File()
	server.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, err := StdioConn(f, f)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.UnixConn); !ok {
		t.Errorf("StdioConn over a socket gave %T, want *net.UnixConn", c)
	}
	peer.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	c.Close()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Read(buf); err != io.EOF {
		t.Errorf("peer read after Close: %v, want EOF (a descriptor left open?)", err)
	}
}

// testDeadline checks that a read deadline interrupts a read that would block, which
// the handshake timeout relies on.
func testDeadline(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Skipf("no deadlines on this platform: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	select {
	case err := <-done:
		if !os.IsTimeout(err) {
			t.Errorf("read past the deadline: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read deadline did not interrupt the read")
	}
	c.SetReadDeadline(time.Time{})
}
