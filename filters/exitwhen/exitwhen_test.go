package exitwhen_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/exitwhen"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseEvent(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := fmt.Sprint(r.Fd())
	for _, s := range []string{
		"file-created:/tmp/x", "file-deleted:relative/path", "pipe-closed:" + fd, "fd-closed:" + fd,
		"process-exits:1", "script:test -e /tmp/x && exit 88; exit 0", "file-created:a:b",
	} {
		e, err := exitwhen.ParseEvent(s)
		if err != nil {
			t.Errorf("ParseEvent(%q): %v", s, err)
		} else if e.String() != s {
			t.Errorf("ParseEvent(%q).String() = %q", s, e.String())
		}
	}
	for _, s := range []string{
		"", "file-created", "file-created:", "file-exists:/tmp/x", "pipe-closed:x", "pipe-closed:-1",
		"pipe-closed:99999", "fd-closed:1.5", "process-exits:0", "process-exits:-5", "process-exits:me",
		"script:", "FILE-CREATED:/tmp/x",
	} {
		if e, err := exitwhen.ParseEvent(s); err == nil {
			t.Errorf("ParseEvent(%q) = %v, want an error", s, e)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for s, want := range map[string]time.Duration{"60": time.Minute, "0.5": 500 * time.Millisecond, "20ms": 20 * time.Millisecond} {
		if got, err := exitwhen.ParseSeconds(s); err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "soon", " 1", "1e3"} {
		if _, err := exitwhen.ParseSeconds(s); err == nil {
			t.Errorf("ParseSeconds(%q) succeeded", s)
		}
	}
}

func TestBadParameters(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct{ param, want string }{
		{"exit-when-pipe-closed=99999", "exit-when-pipe-closed=99999: pipe-closed:99999: file descriptor 99999 is not open"},
		{"exit-when-process-exits=0", "exit-when-process-exits=0: process-exits:0: not a process ID"},
		{"exit-when-file-created=", "exit-when-file-created=: file-created: the argument is empty"},
		{"exitwhen=file-appears:/x", `exitwhen=file-appears:/x: unknown event "file-appears"`},
		{"exitwhen=/tmp/stop", `exitwhen=/tmp/stop: cannot parse event "/tmp/stop"`},
		{"exit-when-poll=0", "exit-when-poll=0: the interval must be more than zero"},
		{"exitwhen-poll=often", `exitwhen-poll=often: could not parse interval "often"`},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{exitwhen.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.param, err, tc.want)
		}
	}
	layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{exitwhen.Spec()},
		"exit-when-file-created=/nonexistent/a", "exitwhen=file-deleted:/", "exit-when-poll=1", "exitwhen-poll=2")
	if err != nil || layer.Name() != "exitwhen" {
		t.Errorf("good parameters: %v", err)
	}
}

// start serves the filter with opts over a disk and returns the server and its log.
func start(t *testing.T, opts exitwhen.Options) (*servertest.Server, *servertest.LogBuffer) {
	t.Helper()
	log := &servertest.LogBuffer{}
	opts.Logger = log.Logger()
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	s := servertest.Start(t, exitwhen.New(servertest.NewDisk(1<<20).Layer(), opts), server.Options{})
	return s, log
}

func events(t *testing.T, list ...string) []exitwhen.Event {
	t.Helper()
	var out []exitwhen.Event
	for _, s := range list {
		e, err := exitwhen.ParseEvent(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// shutDown reports whether the server was asked to shut down within d.
func shutDown(s *servertest.Server, d time.Duration) bool {
	select {
	case <-s.Engine.ShutdownRequested():
		return true
	case <-time.After(d):
		return false
	}
}

// connects reports whether nbdsh can read from the server.
func connects(t *testing.T, s *servertest.Server) bool {
	t.Helper()
	return servertest.Run(t, "nbdsh", "-u", s.URI(), "-c", "h.pread(512, 0)").Code == 0
}

func TestFileCreatedWaitsForTheLastClient(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	stop := filepath.Join(t.TempDir(), "stop")
	s, log := start(t, exitwhen.Options{Events: events(t, "file-created:"+stop)})
	if !connects(t, s) {
		t.Fatal("nbdsh cannot connect before the event")
	}
	held := s.Dial(t)
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Once the event is seen, new clients are turned away while the old one stays.
	deadline := time.Now().Add(servertest.Timeout)
	for connects(t, s) {
		if time.Now().After(deadline) {
			t.Fatal("new clients are still let in after the event")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if shutDown(s, 200*time.Millisecond) {
		t.Fatal("the server shut down while a client was connected")
	}
	p := make([]byte, 512)
	if err := held.ReadAt(context.Background(), p, 0, 0); err != nil {
		t.Fatalf("the connected client lost its connection: %v", err)
	}
	held.Close()
	if !shutDown(s, servertest.Timeout) {
		t.Fatal("the server did not shut down after the last client left")
	}
	if l := log.String(); !strings.Contains(l, "event=file-created:"+stop) || !strings.Contains(l, "shutting down") {
		t.Errorf("the log does not tell the story:\n%s", l)
	}
}

func TestEventBeforeStart(t *testing.T) {
	s, _ := start(t, exitwhen.Options{Events: events(t, "file-deleted:"+filepath.Join(t.TempDir(), "absent"))})
	if !shutDown(s, 5*time.Second) {
		t.Fatal("an event that had already happened did not shut the server down at once")
	}
}

func TestEvents(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T) (event string, trigger func())
	}{
		{"file-deleted", func(t *testing.T) (string, func()) {
			f := filepath.Join(dir, "lock")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return "file-deleted:" + f, func() { os.Remove(f) }
		}},
		{"pipe-closed", func(t *testing.T) (string, func()) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			w.Write([]byte("data in the pipe is not an event"))
			return fmt.Sprintf("pipe-closed:%d", r.Fd()), func() { w.Close() }
		}},
		{"process-exits", func(t *testing.T) (string, func()) {
			cmd := exec.Command("sleep", "600")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			// Killed but not reaped: a zombie has exited all the same.
			return fmt.Sprintf("process-exits:%d", cmd.Process.Pid), func() { cmd.Process.Kill() }
		}},
		{"script", func(t *testing.T) (string, func()) {
			f := filepath.Join(dir, "go")
			return fmt.Sprintf("script:test -e %s && exit 88; exit 0", f), func() { os.WriteFile(f, nil, 0o644) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			event, trigger := tc.prepare(t)
			s, log := start(t, exitwhen.Options{Events: events(t, event)})
			if shutDown(s, 200*time.Millisecond) {
				t.Fatalf("the server shut down before the event:\n%s", log)
			}
			trigger()
			if !shutDown(s, servertest.Timeout) {
				t.Fatalf("the server did not shut down after the event:\n%s", log)
			}
		})
	}
}

func TestFailingScriptIsLoggedNotAnEvent(t *testing.T) {
	s, log := start(t, exitwhen.Options{Events: events(t, "script:echo oops; exit 3", "script:exit 90")})
	if shutDown(s, 200*time.Millisecond) {
		t.Fatal("a failing script shut the server down")
	}
	if l := log.String(); !strings.Contains(l, "the script failed") || !strings.Contains(l, "oops") || !strings.Contains(l, "reserved status") {
		t.Errorf("the script's failures were not logged:\n%s", l)
	}
}

func TestNoEventsDoesNothing(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	s, _ := start(t, exitwhen.Options{})
	if !connects(t, s) || shutDown(s, 100*time.Millisecond) {
		t.Error("the filter without events got in the way")
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	stop := filepath.Join(t.TempDir(), "stop")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{exitwhen.Spec()}, "exit-when-file-created="+stop, "exit-when-poll=0.05")
	servertest.QemuIO(t, s.URI(), "write -P 0x77 0 4k")
	servertest.Nbdsh(t, s.URI(),
		"assert h.pread(4096, 0) == b'\\x77' * 4096",
		fmt.Sprintf("open(%q, 'w').close()", stop),
	)
	if !shutDown(s, servertest.Timeout) {
		t.Fatal("the server did not shut down after nbdsh created the file and left")
	}
}
