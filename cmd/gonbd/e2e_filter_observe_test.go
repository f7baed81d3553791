package main

// End-to-end tests of the observing and testing filters (log, stats, delay, error,
// retry, retry-request, pause, rate) through the gonbd binary and the real clients,
// with the log compared line by line with nbdkit's for the same requests.

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// observeNbdsh connects nbdsh to uri (with base:allocation) and runs the Python lines.
func observeNbdsh(t *testing.T, uri string, lines ...string) e2eResult {
	t.Helper()
	script := "import errno, os\nh = nbd.NBD()\nh.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)\nh.connect_uri(os.environ['OBSERVE_URI'])\n" +
		strings.Join(lines, "\n")
	return e2eNbdsh(t, []string{"OBSERVE_URI=" + uri}, script)
}

// observeRequests drive gonbd and nbdkit alike in the log comparison. Reads stay
// below 64 KiB, which gonbd would serve as data and hole chunks after an extents
// call (see docs/filters/log.md).
var observeRequests = []string{
	"h.pread(512, 0)",
	"try:\n    h.pwrite(b'x' * 512, 4096)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.ENOSPC, e",
	"h.trim(32768, 65536, nbd.CMD_FLAG_FUA)",
	"h.zero(4096, 0, nbd.CMD_FLAG_NO_HOLE)",
	"h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)",
	"h.flush()",
	"h.cache(4096, 0)",
	"h.block_status(1 << 20, 0, lambda *a: 0)",
	"h.block_status(1 << 20, 0, lambda *a: 0, nbd.CMD_FLAG_REQ_ONE)",
	"h.pread(32768, 1 << 19)",
}

var observeTimestamp = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} `)

// observeLog serves the RAM disk with the log and error filters from bin (gonbd or
// nbdkit), runs observeRequests and returns the log with its timestamps masked.
func observeLog(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	logfile := filepath.Join(dir, "log")
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command(bin, "-f", "-U", sock, "--filter=log", "--filter=error", "memory", "1M",
		"logfile="+logfile, "error=ENOSPC", "error-pwrite-rate=100%")
	cmd.Env = e2eEnv()
	stderr := new(e2eBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(e2eStartTimeout); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", bin, stderr)
		}
	}
	observeNbdsh(t, "nbd+unix:///?socket="+sock, observeRequests...)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	log, err := os.ReadFile(logfile)
	if err != nil {
		t.Fatal(err)
	}
	return observeTimestamp.ReplaceAllString(string(log), "TS ")
}

// TestE2EFilterObserveLogAsNbdkit: the log of the same requests is nbdkit's, line for
// line, once timestamps are masked. The probe connection that waits for the server
// shows as a Preconnect of its own in both, and takes no connection number.
func TestE2EFilterObserveLogAsNbdkit(t *testing.T) {
	e2eStart(t, "nbdsh", "nbdkit")
	got := observeLog(t, e2eServerBinary(t))
	for _, line := range []string{
		`TS connection=1 Zero id=5 offset=0x0 count=0x1000 trim=1 fua=0 fast=1 ...`,
		`TS connection=1 ...Write id=2 return=-1 error=ENOSPC`,
		`TS connection=1 ...Extents id=8 extents=(0x0 0x100000 "hole,zero") return=0`,
		`TS connection=1 Disconnect transactions=10`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("gonbd's log lacks %q:\n%s", line, got)
		}
	}
	if want := observeLog(t, "nbdkit"); got != want {
		t.Errorf("gonbd's log:\n%s\nnbdkit's:\n%s", got, want)
	}
}

// TestE2EFilterObserveStack stacks log, error and retry-request: the error filter's
// failures reach the client through retry-request's retries when it stands in front,
// and are retried away when it stands behind and the trigger file goes.
func TestE2EFilterObserveStack(t *testing.T) {
	e2eStart(t, "nbdsh", "qemu-io")
	dir := t.TempDir()
	trigger := filepath.Join(dir, "inject")
	logfile := filepath.Join(dir, "log")

	// log → error → retry-request: errors are injected in front of the retries.
	s := e2eUnix(t, "--filter=log", "--filter=error", "--filter=retry-request", "memory", "1M",
		"logfile="+logfile, "error=EPERM", "error-pread-rate=100%", "retry-request-delay=1")
	observeNbdsh(t, s.URI,
		"try:\n    h.pread(512, 0)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.EPERM, e",
		"h.pwrite(b'ok', 0)")
	waitForLine(t, logfile, "...Write id=2 return=0")
	if log := readFile(t, logfile); !strings.Contains(log, "...Read id=1 return=-1 error=EPERM") {
		t.Errorf("log:\n%s", log)
	}

	// log → retry-request → error: a read failing while the trigger file exists is
	// retried a second later, after the file went, and succeeds.
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = e2eUnix(t, "--filter=log", "--filter=retry-request", "--filter=error", "memory", "1M",
		"logfile="+logfile, "error-pread-rate=100%", "error-pread-file="+trigger, "retry-request-delay=1")
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.Remove(trigger)
	}()
	start := time.Now()
	out := e2eQemuIO(t, s.URI, "read -P 0 0 4k")
	if elapsed := time.Since(start); elapsed < time.Second || !strings.Contains(out, "read 4096/4096") {
		t.Errorf("a read retried after 1 s took %v: %s", elapsed, out)
	}
	waitForLine(t, logfile, "...Read id=1 return=0")
}

// waitForLine waits until the file holds a line ending with suffix.
func waitForLine(t *testing.T, path, suffix string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(readFile(t, path), "\n") {
			if strings.HasSuffix(line, suffix) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no line ending with %q:\n%s", path, suffix, readFile(t, path))
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestE2EFilterObserveEach runs each of the other filters once through the binary.
func TestE2EFilterObserveEach(t *testing.T) {
	e2eStart(t, "nbdsh", "qemu-io")
	dir := t.TempDir()

	t.Run("stats", func(t *testing.T) {
		statsfile := filepath.Join(dir, "stats")
		s := e2eUnix(t, "--filter=stats", "memory", "1M", "statsfile="+statsfile)
		e2eQemuIO(t, s.URI, "write -P 1 0 4k", "write -P 1 4k 4k", "read -P 1 0 8k")
		s.cmd.Process.Signal(syscall.SIGTERM)
		if code := s.exitCode(10 * time.Second); code != 0 {
			t.Fatalf("exit status %d", code)
		}
		stats := readFile(t, statsfile)
		for _, want := range []string{"write: 2 ops, ", ", 8.00 KiB, ", "    12 bits: 100.0% (2 reqs, 8.00 KiB total)", "read: 1 ops, "} {
			if !strings.Contains(stats, want) {
				t.Errorf("stats lack %q:\n%s", want, stats)
			}
		}
	})

	t.Run("delay", func(t *testing.T) {
		s := e2eUnix(t, "--filter=delay", "memory", "1M", "rdelay=300ms", "wdelay=200ms")
		start := time.Now()
		e2eQemuIO(t, s.URI, "write -P 7 0 4k", "read -P 7 0 4k")
		if elapsed := time.Since(start); elapsed < 500*time.Millisecond {
			t.Errorf("a delayed write and read took %v", elapsed)
		}
	})

	t.Run("error", func(t *testing.T) {
		s := e2eUnix(t, "--filter=error", "memory", "1M", "error=ENOMEM", "error-zero-rate=1")
		observeNbdsh(t, s.URI,
			"h.pwrite(b'x', 0)",
			"try:\n    h.zero(512, 0)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.ENOMEM, e")
	})

	t.Run("retry", func(t *testing.T) {
		trigger := filepath.Join(dir, "retry-trigger")
		if err := os.WriteFile(trigger, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s := e2eUnix(t, "--filter=retry", "--filter=error", "memory", "1M",
			"retry-delay=1", "retry-readonly=yes", "error-pread-rate=100%", "error-pread-file="+trigger)
		go func() {
			time.Sleep(300 * time.Millisecond)
			os.Remove(trigger)
		}()
		// The read succeeds on the reopened, read-only plugin; writes then fail.
		observeNbdsh(t, s.URI,
			"assert h.pread(4, 0) == bytes(4)",
			"try:\n    h.pwrite(b'x', 0)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.EPERM, e")
	})

	t.Run("pause", func(t *testing.T) {
		ctl, err := os.MkdirTemp("", "pause")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(ctl)
		sock := filepath.Join(ctl, "ctl")
		s := e2eUnix(t, "--filter=pause", "memory", "1M", "pause-control="+sock)
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		reply := func(cmd string) string {
			c.Write([]byte(cmd))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b := make([]byte, 1)
			if _, err := c.Read(b); err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
			return string(b)
		}
		if got := reply("p\n"); got != "P" {
			t.Fatalf("pause: %q", got)
		}
		done := make(chan e2eResult, 1)
		go func() { done <- e2eRunQemuIO(t, s.URI, "write -P 9 0 4k") }()
		select {
		case r := <-done:
			t.Fatalf("qemu-io finished while paused: %s", r)
		case <-time.After(500 * time.Millisecond):
		}
		if got := reply("r"); got != "R" {
			t.Fatalf("resume: %q", got)
		}
		if r := <-done; r.Code != 0 || e2eQemuIOFailed(r) {
			t.Errorf("qemu-io after resuming: %s", r)
		}
	})

	t.Run("rate", func(t *testing.T) {
		s := e2eUnix(t, "--filter=rate", "pattern", "8M", "connection-rate=8M")
		// 4 MB at 8 Mbit/s: 2 s of burst go at once, the other 2 MB take 2 s.
		start := time.Now()
		observeNbdsh(t, s.URI, "assert len(h.pread(4 << 20, 0)) == 4 << 20")
		if elapsed := time.Since(start); elapsed < 1500*time.Millisecond {
			t.Errorf("4 MB at 8 Mbit/s took %v", elapsed)
		}
	})
}

// TestE2EFilterObserveBadParameters: each filter refuses a bad parameter with exit
// status 1 and a message naming it.
func TestE2EFilterObserveBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	for _, tc := range []struct {
		filter, param, want string
	}{
		{"log", "logappend=maybe", "logappend=maybe"},
		{"log", "logfile=/nonexistent/dir/log", "/nonexistent/dir/log"},
		{"stats", "statsthreshold=50", "the stats filter requires the statsfile parameter"},
		{"delay", "rdelay=0.5", "rdelay=0.5: not a delay in seconds or NNms"},
		{"error", "error=EAGAIN", `error=EAGAIN: unknown error name "EAGAIN"`},
		{"error", "error-rate=150%", "error-rate=150%: rate out of range"},
		{"retry", "retry-delay=0", "retry-delay=0: the delay cannot be 0"},
		{"retry-request", "retry-request-retries=5000", "retry-request-retries=5000: value too large"},
		{"pause", "size=1", "pause-control socket was not set"},
		{"rate", "rate=0", "rate=0: the rate cannot be set to 0"},
	} {
		r := e2eRun(t, bin, "-U", filepath.Join(t.TempDir(), "sock"), "--filter="+tc.filter, "memory", "1M", tc.param)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("--filter=%s %s: %s\nwant exit status 1 and %q", tc.filter, tc.param, r, tc.want)
		}
	}
}
