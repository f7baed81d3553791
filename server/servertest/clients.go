package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EndToEnd marks a test as end to end: it is skipped under -short, and each named
// client must be installed (see [NeedClient]).
func EndToEnd(t testing.TB, clients ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	for _, c := range clients {
		NeedClient(t, c)
	}
}

// NeedClient returns the path of a program, skipping the test when it is missing, or
// failing it when GONBD_REQUIRE_CLIENTS=1.
func NeedClient(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("GONBD_REQUIRE_CLIENTS") == "1" {
		t.Fatalf("%s is needed and GONBD_REQUIRE_CLIENTS=1: %v", name, err)
	}
	t.Skipf("%s not found: %v", name, err)
	return ""
}

// Env is the environment clients run in: this process's, with /usr/bin first on PATH
// (see the package documentation), the C locale, and extra.
func Env(extra ...string) []string {
	env := append(os.Environ(), "PATH=/usr/bin:"+os.Getenv("PATH"), "LANG=C", "LC_ALL=C")
	return append(env, extra...)
}

// A Result is how a program ended and what it printed.
type Result struct {
	Stdout, Stderr string
	// Code is the exit status; -1 when a signal killed the program.
	Code int
}

func (r Result) String() string {
	return fmt.Sprintf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs a program with [Env] and returns how it ended. A program that cannot start,
// or runs longer than [Timeout], fails the test.
func Run(t testing.TB, name string, args ...string) Result {
	t.Helper()
	return RunEnv(t, nil, name, args...)
}

// RunEnv is [Run] with extra environment variables ("KEY=value").
func RunEnv(t testing.TB, env []string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = Env(env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish in %v:\nstdout:\n%s\nstderr:\n%s", name, args, Timeout, &stdout, &stderr)
	}
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	default:
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// MustRun is [Run] that fails the test unless the program exits 0.
func MustRun(t testing.TB, name string, args ...string) Result {
	t.Helper()
	r := Run(t, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s %q: %s", name, args, r)
	}
	return r
}

// Nbdsh runs nbdsh connected to uri, with the base:allocation meta context requested,
// with Python statements (one -c each; h is the handle), and fails the test unless it exits 0. An assert that fails in a statement
// therefore fails the test, with Python's message.
func Nbdsh(t testing.TB, uri string, stmts ...string) Result {
	t.Helper()
	args := []string{"--base-allocation", "-u", uri}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	return MustRun(t, "nbdsh", args...)
}

// QemuIO runs qemu-io on uri (raw format) with one -c per command, fails the test unless
// it exits 0 and reports no failed command, and returns its output. qemu-io exits 0
// when a command such as read -P fails, so its output is what tells.
func QemuIO(t testing.TB, uri string, cmds ...string) string {
	t.Helper()
	r := RunQemuIO(t, uri, cmds...)
	if r.Code != 0 || QemuIOFailed(r) {
		t.Fatalf("qemu-io %q: %s", cmds, r)
	}
	return r.Stdout
}

// RunQemuIO is [QemuIO] that leaves judging the result to the caller, to test
// failures.
func RunQemuIO(t testing.TB, uri string, cmds ...string) Result {
	t.Helper()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return Run(t, "qemu-io", append(args, uri)...)
}

// QemuIOFailed reports whether qemu-io said a command failed.
func QemuIOFailed(r Result) bool {
	out := strings.ToLower(r.Stdout + r.Stderr)
	return strings.Contains(out, "fail") || strings.Contains(out, "error") || strings.Contains(out, "mismatch")
}

// RandomFile writes size random bytes to a new file in dir and returns its path and
// SHA-256 (hex).
func RandomFile(t testing.TB, dir string, size int64) (path, sum string) {
	t.Helper()
	f, err := os.CreateTemp(dir, fmt.Sprintf("random-%d-*.img", size))
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
	return filepath.Clean(f.Name()), hex.EncodeToString(h.Sum(nil))
}

// FileSHA256 returns the SHA-256 (hex) of a file's contents and its size.
func FileSHA256(t testing.TB, path string) (sum string, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// SHA256 returns the SHA-256 (hex) of b.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
