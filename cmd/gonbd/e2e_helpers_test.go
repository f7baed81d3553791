package main

// Helpers of the end-to-end tests (TestE2E*): they run the real gonbd binary and
// drive it with the real NBD clients (qemu-img, qemu-io, nbdsh, nbdinfo, nbdcopy).
//
// Environment:
//
//	GONBD_E2E_SERVER=nbdkit   run the same tests against nbdkit instead of gonbd, to
//	                          check that each assertion holds for the reference server
//	GONBD_E2E_SERVER=/path    run this gonbd binary instead of building one
//	GONBD_REQUIRE_CLIENTS=1   a missing client fails the test instead of skipping it
//
// The tests are skipped under -short.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server/servertest"
)

const (
	// e2eClientTimeout bounds one run of a client.
	e2eClientTimeout = 2 * time.Minute
	// e2eStartTimeout bounds the wait for a server to accept connections.
	e2eStartTimeout = 20 * time.Second
	e2eMiB          = 1 << 20
)

// e2eBinary is the gonbd binary the tests run, built once per test process.
var e2eBinary struct {
	once sync.Once
	dir  string // the temporary directory holding it; removeE2EBinary removes it
	path string
	err  error
}

// e2eNbdkit reports whether the tests run against nbdkit (GONBD_E2E_SERVER=nbdkit).
func e2eNbdkit() bool { return os.Getenv("GONBD_E2E_SERVER") == "nbdkit" }

// e2eServerBinary returns the server the tests run: nbdkit, a binary named by
// GONBD_E2E_SERVER, or gonbd built from this directory once per test process.
func e2eServerBinary(t testing.TB) string {
	t.Helper()
	switch s := os.Getenv("GONBD_E2E_SERVER"); s {
	case "nbdkit":
		return e2eNeedClient(t, "nbdkit")
	case "":
	default:
		return s
	}
	e2eBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "gonbd-e2e-")
		if err != nil {
			e2eBinary.err = err
			return
		}
		e2eBinary.dir = dir
		path := filepath.Join(dir, "gonbd")
		out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			e2eBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		e2eBinary.path = path
	})
	if e2eBinary.err != nil {
		t.Fatalf("building gonbd: %v", e2eBinary.err)
	}
	return e2eBinary.path
}

// removeE2EBinary removes the binary e2eServerBinary built, if any. A TestMain calls
// it after m.Run.
func removeE2EBinary() {
	if e2eBinary.dir != "" {
		os.RemoveAll(e2eBinary.dir)
	}
}

// e2eStart skips the test under -short and when a client it needs is missing
// (fails instead under GONBD_REQUIRE_CLIENTS=1).
func e2eStart(t *testing.T, clients ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	for _, c := range clients {
		e2eNeedClient(t, c)
	}
}

// e2eNeedClient returns the path of a program, skipping the test when it is missing (or
// failing it under GONBD_REQUIRE_CLIENTS=1).
func e2eNeedClient(t testing.TB, name string) string {
	t.Helper()
	return servertest.NeedClient(t, name)
}

// e2eEnv is the environment of the clients and servers (see servertest.Env).
func e2eEnv(extra ...string) []string { return servertest.Env(extra...) }

// e2eBuffer is a bytes.Buffer safe for a process's output goroutine and the test.
type e2eBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *e2eBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *e2eBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2eServer is a running server process.
type e2eServer struct {
	t      testing.TB
	URI    string // the export's NBD URI
	Socket string // Unix socket path, or ""
	Port   int    // TCP port, or 0
	Stderr *e2eBuffer
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's result, once done is closed
}

// e2eUnix starts `SERVER -f -U SOCK args...` with SOCK in a fresh t.TempDir() and
// waits until the socket accepts.
func e2eUnix(t testing.TB, args ...string) *e2eServer {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	s := e2eStartServer(t, append([]string{"-f", "-U", sock}, args...)...)
	s.Socket = sock
	s.URI = "nbd+unix:///?socket=" + sock
	s.waitReady("unix", sock)
	return s
}

// e2eTCP starts `SERVER -f -p PORT -i 127.0.0.1 args...` on a free loopback port and
// waits until it accepts.
func e2eTCP(t testing.TB, args ...string) *e2eServer {
	t.Helper()
	port := e2eFreePort(t)
	s := e2eStartServer(t, append([]string{"-f", "-p", strconv.Itoa(port), "-i", "127.0.0.1"}, args...)...)
	s.Port = port
	s.URI = fmt.Sprintf("nbd://127.0.0.1:%d", port)
	s.waitReady("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	return s
}

// e2eFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func e2eFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// e2eStartServer starts the server with args and registers its end (SIGKILL, wait) in
// t.Cleanup. It does not wait for it to serve.
func e2eStartServer(t testing.TB, args ...string) *e2eServer {
	t.Helper()
	bin := e2eServerBinary(t)
	s := &e2eServer{t: t, Stderr: new(e2eBuffer), done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = e2eEnv()
	s.cmd.Stdout = s.Stderr
	s.cmd.Stderr = s.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s %q: %v", bin, args, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server %q output:\n%s", args, s.Stderr)
		}
	})
	return s
}

// waitReady polls the server's address until it accepts a connection, failing the
// test if the server exits or e2eStartTimeout passes first.
func (s *e2eServer) waitReady(network, addr string) {
	s.t.Helper()
	deadline := time.Now().Add(e2eStartTimeout)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("server %q exited before serving (%v):\n%s", s.cmd.Args, s.err, s.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("server %q does not accept on %s %s after %v: %v\n%s", s.cmd.Args, network, addr, e2eStartTimeout, err, s.Stderr)
		}
	}
}

// exitCode waits up to d for the server to exit and returns its exit status.
func (s *e2eServer) exitCode(d time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		s.t.Fatalf("server %q still running after %v:\n%s", s.cmd.Args, d, s.Stderr)
	}
	return e2eExitStatus(s.t, s.err)
}

// e2eExitStatus turns an exec error into an exit status; a death by signal fails the test.
func e2eExitStatus(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("process killed by %v", ws.Signal())
		}
		return ee.ExitCode()
	default:
		t.Fatalf("process: %v", err)
		return -1
	}
}

// e2eResult is what a finished process said.
type e2eResult = servertest.Result

// e2eRun runs a client with e2eClientTimeout and returns its output and exit status. A
// client that overruns the timeout fails the test.
func e2eRun(t testing.TB, name string, args ...string) e2eResult {
	t.Helper()
	return e2eRunEnv(t, nil, name, args...)
}

// e2eRunEnv is e2eRun with extra environment variables. A client killed by a signal
// fails the test.
func e2eRunEnv(t testing.TB, env []string, name string, args ...string) e2eResult {
	t.Helper()
	r := servertest.RunEnv(t, env, name, args...)
	if r.Code < 0 {
		t.Fatalf("%s %q was killed by a signal: %s", name, args, r)
	}
	return r
}

// e2eMustRun is e2eRun that fails the test unless the client exits 0.
func e2eMustRun(t testing.TB, name string, args ...string) e2eResult {
	t.Helper()
	r := e2eRun(t, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s %q: %s", name, args, r)
	}
	return r
}

// e2eRandomFile writes size random bytes to a new file in dir and returns its path and
// SHA-256.
func e2eRandomFile(t testing.TB, dir string, size int64) (path, sum string) {
	t.Helper()
	path = filepath.Join(dir, fmt.Sprintf("random-%d.img", size))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

// e2eFileSHA256 returns the SHA-256 of a file and its size.
func e2eFileSHA256(t testing.TB, path string) (string, int64) {
	t.Helper()
	return servertest.FileSHA256(t, path)
}

// e2eQemuIO runs qemu-io on a raw NBD URI and fails the test unless every command
// succeeded (see servertest.QemuIO); it returns the output.
func e2eQemuIO(t testing.TB, uri string, cmds ...string) string {
	t.Helper()
	return servertest.QemuIO(t, uri, cmds...)
}

// e2eRunQemuIO is e2eQemuIO that leaves judging the result to the caller.
func e2eRunQemuIO(t testing.TB, uri string, cmds ...string) e2eResult {
	t.Helper()
	return servertest.RunQemuIO(t, uri, cmds...)
}

// e2eQemuIOFailed reports whether qemu-io said a command failed.
func e2eQemuIOFailed(r e2eResult) bool { return servertest.QemuIOFailed(r) }

// e2eNbdsh runs nbdsh with Python statements and fails the test unless it exits 0.
func e2eNbdsh(t testing.TB, env []string, stmts ...string) e2eResult {
	t.Helper()
	args := []string{"-n"}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	r := e2eRunEnv(t, env, "nbdsh", args...)
	if r.Code != 0 {
		t.Fatalf("nbdsh %q: %s", stmts, r)
	}
	return r
}

// TestMain removes the gonbd binary the end-to-end tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	removeE2EBinary()
	os.Exit(code)
}
