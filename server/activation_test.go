package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestActivatedFDs(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		name     string
		env      map[string]string
		want     int
		wantFail bool
	}{
		{"no variables", nil, 0, false},
		{"only LISTEN_FDS", map[string]string{"LISTEN_FDS": "1"}, 0, false},
		{"only LISTEN_PID", map[string]string{"LISTEN_PID": "4242"}, 0, false},
		{"ours", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2"}, 2, false},
		{"another process's", map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "2"}, 0, false},
		{"zero sockets", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "0"}, 0, false},
		{"bad pid", map[string]string{"LISTEN_PID": "me", "LISTEN_FDS": "1"}, 0, true},
		{"bad count", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "many"}, 0, true},
		{"negative count", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "-1"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := activatedFDs(pid, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantFail {
				t.Fatalf("error %v, want failure %v", err, tc.wantFail)
			}
			if n != tc.want {
				t.Errorf("got %d descriptors, want %d", n, tc.want)
			}
		})
	}
}

func TestActivatedListenersNotActivated(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	lns, err := ActivatedListeners()
	if err != nil || lns != nil {
		t.Fatalf("got %v, %v; want nothing for another process's activation", lns, err)
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%s still set", k, v)
		}
	}
}

// TestActivatedListenersInherited starts this test binary again as socket activation
// does, with a listening socket as descriptor 3, LISTEN_FDS=1 and LISTEN_PID set to
// the child's own pid (by a shell that execs it), and has the child accept on it.
func TestActivatedListenersInherited(t *testing.T) {
	if os.Getenv("GONBD_TEST_ACTIVATION_CHILD") == "1" {
		activationChild()
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("socket activation passes descriptors, which Windows does not have")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set LISTEN_PID")
	}
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// The path must outlive our copy of the listener, which the child inherits.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	t.Cleanup(func() { os.Remove(path) })
	f, err := ln.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, "-c", `LISTEN_PID=$$ exec "$0" -test.run='^TestActivatedListenersInherited$'`, os.Args[0])
	cmd.Env = append(os.Environ(), "GONBD_TEST_ACTIVATION_CHILD=1", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	ln.Close() // the child owns the socket now

	c, err := net.Dial("unix", path)
	if err != nil {
		cancel()
		cmd.Wait()
		t.Fatalf("dial the inherited socket: %v\n%s", err, out.String())
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "activated 0 left" {
		t.Errorf("child said %q, %v; want %q\n%s", reply, err, "activated 0 left", out.String())
	}
}

// activationChild is the child of TestActivatedListenersInherited: it writes to the
// first client of its activated listener how many activation variables are left.
func activationChild() {
	lns, err := ActivatedListeners()
	if err != nil || len(lns) != 1 {
		fmt.Fprintf(os.Stderr, "ActivatedListeners: %d listeners, %v\n", len(lns), err)
		os.Exit(1)
	}
	left := 0
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS"} {
		if _, ok := os.LookupEnv(k); ok {
			left++
		}
	}
	c, err := lns[0].Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(c, "activated %d left", left)
	c.Close()
	os.Exit(0)
}
