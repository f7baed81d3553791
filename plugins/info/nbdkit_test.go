package info

// Helpers that compare the plugin with nbdkit's plugin of the same name: they start
// nbdkit on a Unix socket and read what clients see of both.

import (
	"encoding/json"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server/servertest"
)

// startNbdkit serves `nbdkit PLUGIN ARGS...` on a Unix socket until the test ends and
// returns the socket's path.
func startNbdkit(t *testing.T, args ...string) string {
	t.Helper()
	nbdkit := servertest.NeedClient(t, "nbdkit")
	dir, err := os.MkdirTemp("", "nbdkit") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "nbd.sock")

	cmd := exec.Command(nbdkit, append([]string{"-f", "-U", sock, "--exit-with-parent"}, args...)...)
	cmd.Env = servertest.Env()
	output := new(servertest.LogBuffer)
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		select {
		case <-exited:
			t.Fatalf("nbdkit %q exited before serving (%v):\n%s", args, waitErr, output)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nbdkit %q does not accept connections:\n%s", args, output)
		}
	}
}

// socketURI returns the NBD URI of the export called name on a Unix socket.
func socketURI(sock, name string) string {
	return "nbd+unix:///" + name + "?socket=" + sock
}

// exportFacts returns what `nbdinfo --json` says about the export at uri, without what
// differs between two servers of the same export: its URI, and the block sizes that
// gonbd always advertises and nbdkit 1.32 does not; and without what file(1) makes of
// the contents when they are times, read at different instants.
func exportFacts(t *testing.T, uri string, withContent bool) map[string]any {
	t.Helper()
	r := servertest.MustRun(t, "nbdinfo", "--json", uri)
	var info struct {
		Exports []map[string]any `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil || len(info.Exports) != 1 {
		t.Fatalf("nbdinfo --json %s: %v\n%s", uri, err, r.Stdout)
	}
	facts := info.Exports[0]
	maps.DeleteFunc(facts, func(key string, _ any) bool {
		return key == "uri" || strings.HasPrefix(key, "block_size_") || key == "content" && !withContent
	})
	return facts
}

// sameAsNbdkit checks that nbdinfo describes both exports alike, then that each of
// the Python statements prints the same on both.
func sameAsNbdkit(t *testing.T, ours, theirs string, withContent bool, stmts ...string) {
	t.Helper()
	if got, want := exportFacts(t, ours, withContent), exportFacts(t, theirs, withContent); !maps.EqualFunc(got, want, jsonEqual) {
		t.Errorf("nbdinfo --json:\n gonbd  %v\n nbdkit %v", got, want)
	}
	for _, stmt := range stmts {
		got := servertest.Nbdsh(t, ours, stmt).Stdout
		want := servertest.Nbdsh(t, theirs, stmt).Stdout
		if got != want {
			t.Errorf("%s:\n gonbd  %s\n nbdkit %s", stmt, got, want)
		}
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
