package nbd

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// exportInfo runs nbdinfo --json on uri and returns what it says about the export,
// without its URI, which names the server asked.
func exportInfo(t *testing.T, r servertest.Result) map[string]any {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("nbdinfo: %s", r)
	}
	var info struct {
		Exports []map[string]any `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil || len(info.Exports) != 1 {
		t.Fatalf("nbdinfo printed %d exports (%v):\n%s", len(info.Exports), err, r.Stdout)
	}
	e := info.Exports[0]
	delete(e, "uri")
	return e
}

// TestE2ECapabilitiesMatchNbdkit puts gonbd's proxy and nbdkit's in front of the same
// servers of various capabilities and checks that clients see the same export through
// both, and the server's own capabilities.
func TestE2ECapabilitiesMatchNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo")
	for _, remote := range [][]string{
		{"memory", "64M"},
		{"-r", "memory", "64M"},
		{"--filter=nozero", "--filter=fua", "--filter=nocache", "memory", "64M", "cachemode=none"},
		{"--filter=noextents", "--filter=multi-conn", "--filter=fua", "memory", "64M", "multi-conn-mode=disable", "fuamode=emulate"},
		{"--filter=nozero", "memory", "64M", "zeromode=notrim", "fastzeromode=none"},
		{"--filter=exportname", "--filter=blocksize-policy", "memory", "1G",
			"exportdesc=fixed:a disk for testing", "blocksize-minimum=4096", "blocksize-preferred=64K", "blocksize-maximum=1M"},
		{"null", "size=1T"},
	} {
		t.Run(strings.Join(remote, " "), func(t *testing.T) {
			sock := startNbdkit(t, remote...)
			direct := exportInfo(t, servertest.Run(t, "nbdinfo", "--json", "nbd+unix:///?socket="+sock))
			ours := exportInfo(t, servertest.Run(t, "nbdinfo", "--json", proxyTo(t, "socket="+sock).URI()))
			theirs := exportInfo(t, servertest.Run(t, "nbdkit", "-U", "-", "nbd", "socket="+sock,
				"--run", `nbdinfo --json "$uri"`))
			for _, key := range slices.Sorted(maps.Keys(theirs)) {
				if want, got := theirs[key], ours[key]; !equalJSON(got, want) {
					t.Errorf("%s: gonbd's proxy says %v, nbdkit's %v (the server itself: %v)", key, got, want, direct[key])
				}
			}
			for _, key := range []string{"is_read_only", "can_flush", "can_trim", "can_fua", "can_multi_conn",
				"can_cache", "can_fast_zero", "contexts", "description", "export-size", "block_size_minimum", "block_size_maximum"} {
				if _, told := direct[key]; !told && strings.HasPrefix(key, "block_size") {
					continue // gonbd always advertises block sizes, its defaults when the server gave none
				}
				if !equalJSON(ours[key], direct[key]) {
					t.Errorf("%s: the proxy says %v, the server %v", key, ours[key], direct[key])
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestE2EMapMatchesNbdkit checks that block status through the proxy is the server's:
// the same map as nbdkit's proxy and the server itself give.
func TestE2EMapMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo", "qemu-io")
	sock := startNbdkit(t, "memory", "64M")
	direct := "nbd+unix:///?socket=" + sock
	servertest.QemuIO(t, direct, "write -P 1 0 64k", "write -P 2 1M 1M", "write -P 3 10000k 100k", "write -P 0 20M 64k")
	want := servertest.MustRun(t, "nbdinfo", "--map", direct).Stdout
	ours := servertest.MustRun(t, "nbdinfo", "--map", proxyTo(t, "socket="+sock).URI()).Stdout
	theirs := servertest.MustRun(t, "nbdkit", "-U", "-", "nbd", "socket="+sock, "--run", `nbdinfo --map "$uri"`).Stdout
	if ours != want || ours != theirs {
		t.Errorf("map through the proxy:\n%s\nthrough nbdkit's proxy:\n%s\nof the server:\n%s", ours, theirs, want)
	}
	if strings.Count(want, "\n") < 5 {
		t.Errorf("the server's map is too simple to test anything:\n%s", want)
	}
}

// TestE2EQemuNbdMatchesNbdkit runs qemu-nbd on a qcow2 image behind gonbd's proxy and
// nbdkit's (command=), which must show clients the same export.
func TestE2EQemuNbdMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo", "qemu-nbd", "qemu-img")
	image := filepath.Join(t.TempDir(), "disk.qcow2")
	servertest.MustRun(t, "qemu-img", "create", "-q", "-f", "qcow2", image, "64M")
	command := []string{"command=qemu-nbd", "arg=-f", "arg=qcow2", "arg=" + image}
	proxy := proxyTo(t, command...)
	ours := exportInfo(t, servertest.Run(t, "nbdinfo", "--json", proxy.URI()))
	// qemu-nbd locks the image: ours must be gone before nbdkit's starts.
	if err := proxy.Stop(); err != nil {
		t.Fatal(err)
	}
	theirs := exportInfo(t, servertest.Run(t, "nbdkit", append(append([]string{"-U", "-", "nbd"}, command...),
		"--run", `nbdinfo --json "$uri"`)...))
	if !equalJSON(ours, theirs) {
		t.Errorf("qemu-nbd through gonbd's proxy:\n%v\nthrough nbdkit's:\n%v", ours, theirs)
	}
}
