//go:build unix

package main

// End-to-end tests of the command line itself: how gonbd listens, goes to the
// background, is socket-activated, stops on signals and fails. They use the helpers
// of e2e_helpers_test.go and the real clients.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestE2ECLIUnixSocket(t *testing.T) {
	e2eStart(t, "nbdinfo")
	s := e2eUnix(t, "memory", "1M")
	r := e2eMustRun(t, "nbdinfo", "--json", s.URI)
	var info struct {
		Exports []struct {
			Size int64 `json:"export-size"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil || len(info.Exports) != 1 || info.Exports[0].Size != 1<<20 {
		t.Fatalf("nbdinfo --json: %v\n%s", err, r.Stdout)
	}
	// SIGTERM: a clean exit, and the socket is gone.
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.exitCode(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if _, err := os.Lstat(s.Socket); !os.IsNotExist(err) {
		t.Errorf("socket %s still there after exit: %v", s.Socket, err)
	}
}

func TestE2ECLISigint(t *testing.T) {
	e2eStart(t)
	s := e2eUnix(t, "memory", "1M")
	s.cmd.Process.Signal(os.Interrupt)
	if code := s.exitCode(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGINT, want 0", code)
	}
}

func TestE2ECLITCP(t *testing.T) {
	e2eStart(t, "nbdinfo")
	s := e2eTCP(t, "-r", "memory", "2M")
	if r := e2eMustRun(t, "nbdinfo", "--size", s.URI); r.Stdout != "2097152\n" {
		t.Errorf("nbdinfo --size %s: %s", s.URI, r)
	}

	// -p 0 lets the system choose; --print-uri says what it chose.
	s = e2eStartServer(t, "-f", "-4", "-i", "127.0.0.1", "-p", "0", "--print-uri", "memory", "3M")
	uri := waitForOutput(t, s, "nbd://127.0.0.1:")
	if r := e2eMustRun(t, "nbdinfo", "--size", uri); r.Stdout != "3145728\n" {
		t.Errorf("nbdinfo --size %s: %s", uri, r)
	}
}

// waitForOutput waits for the server to write a line starting with prefix and
// returns that line.
func waitForOutput(t *testing.T, s *e2eServer, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(e2eStartTimeout)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.Stderr.String(), "\n") {
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no line starting with %q from the server:\n%s", prefix, s.Stderr)
	return ""
}

// TestE2ECLIBackground starts gonbd without -f: the command returns once the server
// listens, the server goes on in the background and writes its pidfile.
func TestE2ECLIBackground(t *testing.T) {
	e2eStart(t, "nbdinfo")
	bin := e2eServerBinary(t)
	dir := t.TempDir()
	sock, pidFile := filepath.Join(dir, "sock"), filepath.Join(dir, "pid")
	ctx, cancel := context.WithTimeout(context.Background(), e2eStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-U", sock, "-P", pidFile, "--print-uri", "memory", "1M")
	cmd.Env = e2eEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	pid := readPidFile(t, pidFile)
	if pid > 0 {
		t.Cleanup(func() { killAndWait(pid) })
	}
	if err != nil {
		t.Fatalf("gonbd in the background: %v\nstderr:\n%s", err, &stderr)
	}
	if want := "nbd+unix://?socket=" + sock + "\n"; stdout.String() != want {
		t.Errorf("--print-uri printed %q, want %q", &stdout, want)
	}
	if pid == cmd.Process.Pid {
		t.Errorf("the pidfile names the process that returned, not the server")
	}
	if r := e2eMustRun(t, "nbdinfo", "--size", "nbd+unix:///?socket="+sock); r.Stdout != "1048576\n" {
		t.Errorf("nbdinfo: %s", r)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	waitGone(t, pid)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after the server exited: %v", err)
	}
}

func readPidFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %q: %v", b, err)
	}
	return pid
}

// killAndWait kills a process that is not our child, and waits for it to go.
func killAndWait(pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 500 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits for a process that is not our child to exit.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestE2ECLIBackgroundFailure: an error in the background child reaches the terminal
// and the exit status, as it would without going to the background.
func TestE2ECLIBackgroundFailure(t *testing.T) {
	e2eStart(t)
	r := e2eRun(t, e2eServerBinary(t), "-U", filepath.Join(t.TempDir(), "sock"), "memory", "size=banana")
	if r.Code != 1 || r.Stderr != "gonbd: memory: size=banana: could not parse size \"banana\"\n" {
		t.Errorf("got %s", r)
	}
}

// TestE2ECLISocketActivation passes a listening socket as systemd does: descriptor 3,
// LISTEN_FDS=1 and LISTEN_PID set to the server's pid by a shell that execs it.
func TestE2ECLISocketActivation(t *testing.T) {
	e2eStart(t, "nbdinfo")
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	f, err := ln.(*net.UnixListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	s := &e2eServer{t: t, Stderr: new(e2eBuffer), done: make(chan struct{})}
	s.cmd = exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "memory", "1M")
	s.cmd.Env = e2eEnv("LISTEN_FDS=1")
	s.cmd.ExtraFiles = []*os.File{f}
	s.cmd.Stdout, s.cmd.Stderr = s.Stderr, s.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.done })
	f.Close()

	if r := e2eMustRun(t, "nbdinfo", "--size", "nbd+unix:///?socket="+sock); r.Stdout != "1048576\n" {
		t.Errorf("nbdinfo: %s", r)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.exitCode(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}

	// Options that choose where to listen conflict with the sockets passed.
	r := e2eRunEnv(t, []string{"LISTEN_FDS=1"}, "sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "-U", sock, "memory", "1M")
	if r.Code != 1 || !strings.Contains(r.Stderr, "socket activation (LISTEN_FDS) cannot be used with") {
		t.Errorf("socket activation with -U: %s", r)
	}
}

// TestE2ECLICaptiveSignal: a --run command killed by a signal makes gonbd exit
// 128+N, as a shell reports it.
func TestE2ECLICaptiveSignal(t *testing.T) {
	e2eStart(t)
	r := e2eRun(t, e2eServerBinary(t), "memory", "1M", "--run", `kill -TERM $$`)
	if r.Code != 128+int(syscall.SIGTERM) || !strings.Contains(r.Stderr, "killed by signal 15") {
		t.Errorf("got %s", r)
	}
}

// TestE2ECLIExitWithParent: the server exits when the process that started it does.
func TestE2ECLIExitWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("--exit-with-parent is Linux only")
	}
	e2eStart(t)
	bin := e2eServerBinary(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// The shell starts gonbd, waits for its pidfile, and exits.
	script := `"$0" --exit-with-parent -U "$1/sock" -P "$1/pid" memory 1M & while [ ! -s "$1/pid" ]; do sleep 0.05; done`
	r := e2eRun(t, "sh", "-c", script, bin, dir)
	pid := readPidFile(t, pidFile)
	if r.Code != 0 || pid == 0 {
		t.Fatalf("the parent shell: %s", r)
	}
	t.Cleanup(func() { killAndWait(pid) })
	waitGone(t, pid)
}

func TestE2ECLILogFile(t *testing.T) {
	e2eStart(t, "nbdinfo")
	logFile := filepath.Join(t.TempDir(), "gonbd.log")
	s := e2eUnix(t, "-v", "--log="+logFile, "memory", "1M")
	e2eMustRun(t, "nbdinfo", "--size", s.URI)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.exitCode(20 * time.Second)
	b, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(b), "gonbd: debug: ") {
		t.Errorf("log file: %v\n%s", err, b)
	}
	if strings.Contains(s.Stderr.String(), "debug") {
		t.Errorf("debug lines on stderr despite --log:\n%s", s.Stderr)
	}
}
