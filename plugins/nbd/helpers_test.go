package nbd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	sock := filepath.Join(socketDir(t), "nbdkit.sock")
	runNbdkit(t, append([]string{"-U", sock}, args...)...)
	return sock
}

// startNbdkitTCP runs `nbdkit -f --exit-with-parent -i 127.0.0.1 -p PORT args...` until
// the test ends and returns PORT once nbdkit accepts connections on it.
func startNbdkitTCP(t testing.TB, args ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	runNbdkit(t, append([]string{"-i", "127.0.0.1", "-p", port}, args...)...)
	return port
}

// runNbdkit runs `nbdkit -f --exit-with-parent args...` until the test ends, and
// returns once nbdkit serves.
func runNbdkit(t testing.TB, args ...string) {
	t.Helper()
	servertest.NeedClient(t, "nbdkit")
	pidFile := filepath.Join(t.TempDir(), "nbdkit.pid")
	cmd := exec.Command("nbdkit", append([]string{"-f", "--exit-with-parent", "-P", pidFile}, args...)...)
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
	// nbdkit writes its PID file once it listens.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("nbdkit %q exited before serving:\n%s", args, out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nbdkit %q does not serve after 10s:\n%s", args, out)
		}
	}
}

// remoteServer is an in-process NBD server on a Unix socket path the test chooses,
// which it can stop and start again on the same path.
type remoteServer struct {
	t      testing.TB
	layer  server.Layer
	socket string

	mu     sync.Mutex
	cancel context.CancelFunc // nil when not serving
	done   chan struct{}
	engine *server.Server
}

// serveAt serves layer on the Unix socket path until Stop or the end of the test.
func serveAt(t testing.TB, layer server.Layer, path string) *remoteServer {
	t.Helper()
	r := notServingAt(t, layer, path)
	r.Start()
	return r
}

// notServingAt returns a server for layer on path that serves once started (Start or
// start) until Stop or the end of the test.
func notServingAt(t testing.TB, layer server.Layer, path string) *remoteServer {
	r := &remoteServer{t: t, layer: layer, socket: path}
	t.Cleanup(r.Stop)
	return r
}

// Start serves, or fails the test.
func (r *remoteServer) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// start serves; unlike Start it may be called on any goroutine.
func (r *remoteServer) start() error {
	ln, err := net.Listen("unix", r.socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	engine, err := server.New(ctx, r.layer, server.Options{})
	if err != nil {
		cancel()
		ln.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := engine.Serve(ctx, ln); err != nil && !errors.Is(err, net.ErrClosed) {
			r.t.Errorf("remote server: %v", err)
		}
	}()
	r.mu.Lock()
	r.cancel, r.engine, r.done = cancel, engine, done
	r.mu.Unlock()
	return nil
}

// Stop stops serving and closes every connection, as a server that goes away does.
func (r *remoteServer) Stop() {
	r.mu.Lock()
	cancel, engine, done := r.cancel, r.engine, r.done
	r.cancel = nil
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := engine.Close(ctx); err != nil {
		r.t.Errorf("closing the remote server: %v", err)
	}
}

// proxyTo serves the plugin with params in front of a server and returns the proxy.
func proxyTo(t testing.TB, params ...string) *servertest.Server {
	t.Helper()
	return servertest.StartStack(t, Spec(), nil, params...)
}

// containsAny reports whether s contains one of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
