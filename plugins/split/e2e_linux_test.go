package split

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gonbd/gonbd/server/servertest"
)

// nbdshExtents is Python for nbdsh that prints the export's base:allocation extents
// as JSON [offset, length, flags] triples, asking as often as the server needs.
const nbdshExtents = `
import json
size, off, out = h.get_size(), 0, []
while off < size:
    got = []
    h.block_status(size - off, off, lambda meta, o, e, err: got.extend(e) if meta == "base:allocation" else None)
    for i in range(0, len(got), 2):
        n = min(got[i], size - off)
        out.append([off, n, got[i + 1]])
        off += n
print(json.dumps(out))
`

// extent is one extent as nbdsh prints it.
type extent struct{ Off, Len, Flags int64 }

// mergeExtents joins neighbouring extents of the same flags.
func mergeExtents(in []extent) []extent {
	var out []extent
	for _, e := range in {
		if n := len(out); n > 0 && out[n-1].Flags == e.Flags {
			out[n-1].Len += e.Len
			continue
		}
		out = append(out, e)
	}
	return out
}

func parseExtents(t *testing.T, out string) []extent {
	t.Helper()
	var triples [][3]int64
	if err := json.Unmarshal([]byte(out), &triples); err != nil {
		t.Fatalf("extents from nbdsh: %v\n%s", err, out)
	}
	var list []extent
	for _, e := range triples {
		list = append(list, extent{e[0], e[1], e[2]})
	}
	return mergeExtents(list)
}

// filesExtents returns what the export's extents must be: each file's holes (3) and
// data (0), at the file's place in the export.
func filesExtents(t *testing.T, paths []string) []extent {
	t.Helper()
	var list []extent
	start := int64(0)
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		off := int64(0)
		for _, h := range holesOf(t, path) {
			if h[0] > off {
				list = append(list, extent{start + off, h[0] - off, 0})
			}
			list = append(list, extent{start + h[0], h[1] - h[0], 3})
			off = h[1]
		}
		if off < info.Size() {
			list = append(list, extent{start + off, info.Size() - off, 0})
		}
		start += info.Size()
	}
	return mergeExtents(list)
}

// TestE2EExtents punches holes in three files, some across a boundary of the export,
// and checks the extents nbdsh reads against the files' holes and against nbdkit's
// split plugin serving the same files.
func TestE2EExtents(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	paths, _ := testFiles(t, 1<<20+5, 2<<20+3000, 1<<20)
	for i, holes := range [][][2]int64{{{64 << 10, 128 << 10}}, {{0, 128 << 10}, {1 << 20, 3 << 19}}, {{4096, 8192}}} {
		f, err := os.OpenFile(paths[i], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range holes {
			if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, h[0], h[1]-h[0]); err != nil {
				t.Skipf("the file system cannot punch holes: %v", err)
			}
		}
		f.Close()
	}
	s := servertest.StartStack(t, Spec(), nil, fileParams(paths)...)
	got := parseExtents(t, servertest.Nbdsh(t, s.URI(), nbdshExtents).Stdout)
	if want := filesExtents(t, paths); !slices.Equal(got, want) {
		t.Errorf("extents:\n got %v\nwant %v (the files' holes)", got, want)
	}
	if uri := nbdkitURI(t, append([]string{"split"}, fileParams(paths)...)...); uri != "" {
		if ref := parseExtents(t, servertest.Nbdsh(t, uri, nbdshExtents).Stdout); !slices.Equal(got, ref) {
			t.Errorf("extents:\n gonbd  %v\n nbdkit %v", got, ref)
		}
	}

	// Trimming across the first boundary punches both files: the first from 960 KiB
	// to its end (its last, partial block keeps its data), the second from its
	// start to 1 MiB, where its old hole then continues.
	servertest.Nbdsh(t, s.URI(), "h.trim((1 << 20) + 5 + (1 << 20) - (960 << 10), 960 << 10)")
	if holes := holesOf(t, paths[0]); !slices.Contains(holes, [2]int64{960 << 10, 1 << 20}) {
		t.Errorf("holes of the first file after the trim: %v", holes)
	}
	if holes := holesOf(t, paths[1]); !slices.Equal(holes, [][2]int64{{0, 3 << 19}}) {
		t.Errorf("holes of the second file after the trim: %v", holes)
	}
	got = parseExtents(t, servertest.Nbdsh(t, s.URI(), nbdshExtents).Stdout)
	if want := filesExtents(t, paths); !slices.Equal(got, want) {
		t.Errorf("extents after the trim:\n got %v\nwant %v", got, want)
	}
}

// nbdkitURI serves args with nbdkit on a Unix socket until the test ends and returns
// its URI, to compare with gonbd; "" (and a log line) when nbdkit is not installed.
func nbdkitURI(t *testing.T, args ...string) string {
	t.Helper()
	nbdkit, err := exec.LookPath("nbdkit")
	if err != nil {
		t.Logf("nbdkit not installed: not comparing with it")
		return ""
	}
	dir, err := os.MkdirTemp("", "nbdkit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command(nbdkit, append([]string{"-f", "-U", sock, "--exit-with-parent"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nbdkit %q does not listen on %s:\n%s", args, sock, &stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "nbd+unix:///?socket=" + sock
}
