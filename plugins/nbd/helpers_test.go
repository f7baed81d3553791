package nbd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// socketDir returns a temporary directory whose paths fit in a Unix socket address
// (108 bytes), which t.TempDir's may not.
func socketDir(t testing.TB) string {
	t.Helper()
	if dir := t.TempDir(); len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("", "gonbd-nbd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// lockedBuffer collects a process's output; it is safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startNbdkit runs `nbdkit -f --exit-with-parent -U SOCK args...` until the test ends
// and returns SOCK once nbdkit accepts connections on it.
func startNbdkit(t testing.TB, args ...string) string {
	t.Helper()
	servertest.NeedClient(t, "nbdkit")
	sock := filepath.Join(socketDir(t), "nbdkit.sock")
	cmd := exec.Command("nbdkit", append([]string{"-f", "--exit-with-parent", "-U", sock}, args...)...)
	cmd.Env = servertest.Env()
	out := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nbdkit: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("nbdkit %q said:\n%s", args, out)
		}
	})
	waitForSocket(t, sock, exited, out)
	return sock
}

// waitForSocket waits until something accepts connections on sock, failing the test
// if exited is closed or ten seconds pass first.
func waitForSocket(t testing.TB, sock string, exited <-chan struct{}, out *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("the server exited before listening on %s:\n%s", sock, out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 10s: %v\n%s", sock, err, out)
		}
	}
}

// remoteServer is an in-process NBD server on a Unix socket path the test chooses,
// which it can stop and start again on the same path.
type remoteServer struct {
	t      testing.TB
	layer  server.Layer
	socket string
	cancel context.CancelFunc
	done   chan struct{}
	engine *server.Server
}

// serveAt serves layer on the Unix socket path until Stop or the end of the test.
func serveAt(t testing.TB, layer server.Layer, path string) *remoteServer {
	t.Helper()
	r := &remoteServer{t: t, layer: layer, socket: path}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start serves again after Stop.
func (r *remoteServer) Start() {
	r.t.Helper()
	ln, err := net.Listen("unix", r.socket)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	engine, err := server.New(ctx, r.layer, server.Options{})
	if err != nil {
		cancel()
		ln.Close()
		r.t.Fatal(err)
	}
	r.cancel, r.engine, r.done = cancel, engine, make(chan struct{})
	go func() {
		defer close(r.done)
		if err := engine.Serve(ctx, ln); err != nil && !errors.Is(err, net.ErrClosed) {
			r.t.Errorf("remote server: %v", err)
		}
	}()
}

// Stop stops serving and closes every connection, as a server that goes away does.
func (r *remoteServer) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.engine.Close(ctx); err != nil {
		r.t.Errorf("closing the remote server: %v", err)
	}
	r.cancel = nil
}

// proxyTo serves the plugin with params in front of a server and returns the proxy.
func proxyTo(t testing.TB, params ...string) *servertest.Server {
	t.Helper()
	return servertest.StartStack(t, Spec(), nil, params...)
}
