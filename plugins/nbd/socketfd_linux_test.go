package nbd

import (
	"context"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestSocketFD forwards to a server over an inherited socket, here one end of a socket
// pair whose other end an in-process server serves.
func TestSocketFD(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "server end")
	serverEnd, err := net.FileConn(f) // a copy of the descriptor
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	disk := servertest.NewDisk(1 * miB)
	ctx, cancel := context.WithCancel(context.Background())
	engine, err := server.New(ctx, disk.Layer(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); engine.ServeConn(ctx, serverEnd) }()
	t.Cleanup(func() { cancel(); <-served; engine.Close(context.Background()) })

	proxy := proxyTo(t, "socket-fd="+strconv.Itoa(fds[1]))
	c := proxy.Dial(t)
	if err := c.WriteAt(testContext(t), []byte("over a socket pair"), 100, 0); err != nil {
		t.Fatal(err)
	}
	if got := disk.Bytes()[100:118]; string(got) != "over a socket pair" {
		t.Errorf("the disk holds %q", got)
	}
}
