package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
)

// testTimeout bounds every test that talks to a server.
const testTimeout = 2 * time.Minute

// findBinary returns the path of an external program the test needs. When it is
// missing the test is skipped, unless GONBD_REQUIRE_CLIENTS=1 (as make check sets it)
// makes that a failure. Tests that run servers also skip under -short.
func findBinary(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: not running %s", name)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			if p := filepath.Join(dir, name); isExecutable(p) {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("GONBD_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("%s not found, and GONBD_REQUIRE_CLIENTS=1", name)
		}
		t.Skipf("%s not found", name)
	}
	return path
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// testContext returns a context that ends with the test, or after testTimeout.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// socketDir returns a directory for Unix sockets, short enough for their 108-byte path
// limit.
func socketDir(t testing.TB) string {
	dir := t.TempDir()
	if len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("", "gonbd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// A server is an external NBD server a test started.
type server struct {
	cmd    *exec.Cmd
	socket string
	stderr *bytes.Buffer
	exited chan struct{}
}

// startServer runs the program with args, in which the string SOCKET stands for a
// Unix socket path, waits until the socket accepts connections, and registers the
// server's killing for the end of the test.
func startServer(t testing.TB, program string, args ...string) *server {
	t.Helper()
	s := &server{socket: filepath.Join(socketDir(t), "nbd.sock"), stderr: new(bytes.Buffer), exited: make(chan struct{})}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "SOCKET", s.socket)
	}
	s.cmd = exec.Command(program, args...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", program, err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() && s.stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", program, s.stderr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("%s %q exited: %v\n%s", program, args, s.cmd.ProcessState, s.stderr)
		default:
		}
		if nc, err := net.Dial("unix", s.socket); err == nil {
			nc.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s in time\n%s", program, s.socket, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the server and waits for it to exit.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// nbdkit starts nbdkit in the foreground on a Unix socket, with args after -f -U.
func nbdkit(t testing.TB, args ...string) *server {
	t.Helper()
	return startServer(t, findBinary(t, "nbdkit"), append([]string{"-f", "-U", "SOCKET"}, args...)...)
}

// dial connects to s and registers the connection's closing.
func dial(t testing.TB, ctx context.Context, s *server, opts *client.Options) *client.Conn {
	t.Helper()
	c, err := client.Dial(ctx, "unix", s.socket, opts)
	if err != nil {
		t.Fatalf("Dial: %v\nserver stderr:\n%s", err, s.stderr)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkGoroutines fails the test if goroutines it started outlive it. Register it
// first, so that its cleanup runs after every other.
func checkGoroutines(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before the test, %d after:\n%s",
					before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// dialRaw connects to s without negotiating, for tests of the Negotiator.
func dialRaw(t testing.TB, s *server) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", s.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// insecureTLS is a TLS configuration for tests where the handshake never starts.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
