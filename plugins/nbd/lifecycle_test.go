package nbd

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestRemoteGoesAway stops the server behind the proxy while a client is connected:
// the client's requests fail with EIO, and once the server is back a new client gets
// a new connection to it, as with nbdkit's plugin.
func TestRemoteGoesAway(t *testing.T) {
	disk := servertest.NewDisk(1 * miB)
	disk.SetBytes([]byte("still here"), 0)
	remote := serveAt(t, disk.Layer(), filepath.Join(socketDir(t), "remote.sock"))
	var log servertest.LogBuffer
	p, err := New(Options{Socket: remote.socket, Logger: log.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	proxy := servertest.Start(t, server.PluginLayer("nbd", p), server.Options{})
	ctx := testContext(t)

	before := proxy.Dial(t)
	buf := make([]byte, 10)
	if err := before.ReadAt(ctx, buf, 0, 0); err != nil || string(buf) != "still here" {
		t.Fatalf("reading through the proxy: %q, %v", buf, err)
	}

	remote.Stop()
	for _, op := range []func() error{
		func() error { return before.ReadAt(ctx, buf, 0, 0) },
		func() error { return before.WriteAt(ctx, buf, 0, 0) },
		func() error { return before.Flush(ctx, 0) },
	} {
		if err := op(); !errors.Is(err, syscall.EIO) {
			t.Errorf("a request after the server went away: %v, want EIO", err)
		}
	}
	if !strings.Contains(log.String(), "connection to the server is lost") {
		t.Errorf("the plugin did not log the lost connection:\n%s", log.String())
	}
	// With the server gone, a client cannot open the export.
	if c, err := client.Dial(ctx, "unix", proxy.Socket, nil); err == nil {
		c.Close()
		t.Error("a client could open the export with the server gone")
	}

	remote.Start()
	after := proxy.Dial(t)
	if err := after.ReadAt(ctx, buf, 0, 0); err != nil || string(buf) != "still here" {
		t.Errorf("a new client once the server is back: %q, %v", buf, err)
	}
	if err := before.ReadAt(ctx, buf, 0, 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("the old client after the server came back: %v, want EIO still", err)
	}
}

// TestRetryWaitsForALateServer connects through a proxy with retry=3 to a server that
// starts a second after the client connects.
func TestRetryWaitsForALateServer(t *testing.T) {
	path := filepath.Join(socketDir(t), "late.sock")
	proxy := proxyTo(t, "socket="+path, "retry=3")
	ctx := testContext(t)

	disk := servertest.NewDisk(1 * miB)
	remote := notServingAt(t, disk.Layer(), path)
	startLate(t, remote)
	begin := time.Now()
	c, err := client.Dial(ctx, "unix", proxy.Socket, nil)
	if err != nil {
		t.Fatalf("connecting while the server starts late: %v", err)
	}
	defer c.Close()
	if waited := time.Since(begin); waited < time.Second {
		t.Errorf("connected after %v, before the server started", waited)
	}
	if err := c.WriteAt(ctx, []byte("late"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := disk.Bytes()[:4]; string(got) != "late" {
		t.Errorf("the disk holds %q", got)
	}
}

// startLate starts r in 1.2 s, later than a first connection attempt and before a
// second one.
func startLate(t *testing.T, r *remoteServer) {
	started := make(chan struct{})
	go func() {
		defer close(started)
		time.Sleep(1200 * time.Millisecond)
		if err := r.start(); err != nil {
			t.Errorf("starting the late server: %v", err)
		}
	}()
	t.Cleanup(func() { <-started })
}

func TestNoRetryFailsAtOnce(t *testing.T) {
	path := filepath.Join(socketDir(t), "absent.sock")
	proxy := proxyTo(t, "socket="+path)
	ctx := testContext(t)
	begin := time.Now()
	_, err := client.Dial(ctx, "unix", proxy.Socket, nil)
	var refused *client.OptionError
	if !errors.As(err, &refused) {
		t.Fatalf("connecting with no server behind the proxy: %v, want the export refused", err)
	}
	if time.Since(begin) > 500*time.Millisecond {
		t.Errorf("refused after %v, want at once with retry=0", time.Since(begin))
	}
	if !bytes.Contains([]byte(proxy.Log.String()), []byte(path)) {
		t.Errorf("the proxy's log does not name the server's socket:\n%s", proxy.Log)
	}
}

// TestSharedRetryAtStart starts a shared proxy before its server: GetReady waits.
func TestSharedRetryAtStart(t *testing.T) {
	path := filepath.Join(socketDir(t), "late.sock")
	disk := servertest.NewDisk(1 * miB)
	startLate(t, notServingAt(t, disk.Layer(), path))
	proxy := proxyTo(t, "socket="+path, "retry=5", "shared=true")
	if disk.Counts().Opens.Load() != 1 {
		t.Errorf("the remote disk was opened %d times by the time the proxy was ready, want 1", disk.Counts().Opens.Load())
	}
	c := proxy.Dial(t)
	if err := c.Flush(testContext(t), 0); err != nil {
		t.Fatal(err)
	}
}

// TestSharedConnection serves two clients at once over one connection to the server.
func TestSharedConnection(t *testing.T) {
	disk := servertest.NewDisk(4 * miB)
	remote := servertest.Start(t, disk.Layer(), server.Options{})
	proxy := proxyTo(t, "socket="+remote.Socket, "shared=true")
	ctx := testContext(t)

	clients := []*client.Conn{proxy.Dial(t), proxy.Dial(t)}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			block := bytes.Repeat([]byte{byte('a' + i)}, 64*kiB)
			for j := range 16 {
				off := uint64((2*j + i) * 64 * kiB)
				if err := c.WriteAt(ctx, block, off, 0); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Each client reads what the other wrote.
	for i, c := range clients {
		other := 1 - i
		got := make([]byte, 64*kiB)
		if err := c.ReadAt(ctx, got, uint64((2*3+other)*64*kiB), 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.Repeat([]byte{byte('a' + other)}, 64*kiB)) {
			t.Errorf("client %d does not read what client %d wrote", i, other)
		}
	}
	if n := disk.Counts().Opens.Load(); n != 1 {
		t.Errorf("the remote disk was opened %d times, want once for both clients", n)
	}
	for _, c := range clients {
		c.Close()
	}
	if err := proxy.Stop(); err != nil {
		t.Fatal(err)
	}
	// The server closes its handle once it has read NBD_CMD_DISC, after Cleanup.
	for deadline := time.Now().Add(10 * time.Second); disk.Counts().Closes.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := disk.Counts().Closes.Load(); n != 1 {
		t.Errorf("the shared connection was closed %d times at cleanup, want 1", n)
	}
}
