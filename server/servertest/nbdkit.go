package servertest

import (
	"encoding/json"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// StartNbdkit serves `nbdkit ARGS...` (options, the plugin and its parameters) on a Unix
// socket until the test ends, to compare a plugin or filter with the reference server,
// and returns the socket's path. nbdkit must be installed (see [NeedClient]).
func StartNbdkit(t testing.TB, args ...string) (socket string) {
	t.Helper()
	nbdkit := NeedClient(t, "nbdkit")
	dir, err := os.MkdirTemp("", "nbdkit") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket = filepath.Join(dir, "nbd.sock")

	cmd := exec.Command(nbdkit, append([]string{"-f", "-U", socket, "--exit-with-parent"}, args...)...)
	cmd.Env = Env()
	output := new(LogBuffer)
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
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return socket
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

// SocketURI returns the NBD URI of the export called name on the Unix socket at path.
func SocketURI(path, name string) string {
	return "nbd+unix:///" + name + "?socket=" + path
}

// ExportFacts returns what `nbdinfo --json` says about the export at uri, without what
// differs between two servers of the same export: its URI, the block sizes that gonbd
// always advertises and nbdkit 1.32 does not, and the keys in ignore.
func ExportFacts(t testing.TB, uri string, ignore ...string) map[string]any {
	t.Helper()
	r := MustRun(t, "nbdinfo", "--json", uri)
	var info struct {
		Exports []map[string]any `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil || len(info.Exports) != 1 {
		t.Fatalf("nbdinfo --json %s: %v\n%s", uri, err, r.Stdout)
	}
	facts := info.Exports[0]
	maps.DeleteFunc(facts, func(key string, _ any) bool {
		return key == "uri" || strings.HasPrefix(key, "block_size_") || slices.Contains(ignore, key)
	})
	return facts
}

// SameAsNbdkit checks that nbdinfo describes the exports at ours and theirs alike
// (see [ExportFacts] for ignore), then that each Python statement prints the same
// through nbdsh on both.
func SameAsNbdkit(t testing.TB, ours, theirs string, ignore []string, stmts ...string) {
	t.Helper()
	if got, want := ExportFacts(t, ours, ignore...), ExportFacts(t, theirs, ignore...); !maps.EqualFunc(got, want, jsonEqual) {
		t.Errorf("nbdinfo --json:\n gonbd  %v\n nbdkit %v", got, want)
	}
	for _, stmt := range stmts {
		got := Nbdsh(t, ours, stmt).Stdout
		want := Nbdsh(t, theirs, stmt).Stdout
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
