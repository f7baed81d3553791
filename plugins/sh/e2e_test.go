package sh

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// The end-to-end tests serve the scripts in testdata with the real engine and drive
// them with the real clients, and check the answers against nbdkit running the same
// scripts.

// testdataScript returns the absolute path of a script in testdata.
func testdataScript(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// newDisk writes a disk image of size bytes: random data except in the 64 KiB blocks
// listed in zeroBlocks, which hold zeroes.
func newDisk(t *testing.T, size int64, zeroBlocks ...int64) string {
	t.Helper()
	path, _ := servertest.RandomFile(t, t.TempDir(), size)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, b := range zeroBlocks {
		if _, err := f.WriteAt(make([]byte, 64<<10), b*64<<10); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// copyFile copies a disk image so that two servers can each change their own.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestE2EBashDisk(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "qemu-img")
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	s := servertest.StartStack(t, Spec(), nil, "script="+testdataScript(t, "disk.sh"), "file="+disk)
	uri := s.URI()

	servertest.QemuIO(t, uri,
		"write -P 0xab 64k 64k",
		"write -P 0xcd -f 200k 1k", // FUA, which the script takes natively
		"read -P 0xab 64k 64k",
		"read -P 0 0 64k",
		"write -z 64k 4k",
		"read -P 0 64k 4k",
		"discard 200k 1k",
		"read -P 0 200k 1k",
		"flush",
	)
	data, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 1<<20)
	copy(want[68<<10:128<<10], bytes.Repeat([]byte{0xab}, 60<<10))
	if !bytes.Equal(data, want) {
		t.Error("the file does not hold what qemu-io wrote")
	}

	// Extents come from the contents: the block at 64k holds data, the rest reads
	// as zeroes.
	servertest.Nbdsh(t, uri,
		"assert not h.is_read_only() and h.can_flush() and h.can_trim() and h.can_zero() and h.can_fua() and h.can_multi_conn()",
		"assert not h.can_fast_zero() and not h.can_cache() and not h.is_rotational()",
		"assert h.get_size() == 1048576",
		"e = []",
		"h.block_status(1048576, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [65536, 3, 65536, 0, 1048576 - 131072, 3], e",
		"h.pwrite(b'hello' * 1000, 500000)",
		"assert h.pread(5000, 500000) == b'hello' * 1000",
		"h.zero(65536, 65536, nbd.CMD_FLAG_NO_HOLE)",
		"assert h.pread(65536, 65536) == bytes(65536)",
		"h.trim(5000, 500000)",
		"assert h.pread(5000, 500000) == bytes(5000)",
		"h.flush()",
	)

	// A whole image in and out, checked by checksum.
	src, sum := servertest.RandomFile(t, t.TempDir(), 1<<20)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, uri)
	if got, _ := servertest.FileSHA256(t, disk); got != sum {
		t.Errorf("after qemu-img convert into the export, the file's SHA-256 is %s, want %s", got, sum)
	}
	out := filepath.Join(t.TempDir(), "out.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri, out)
	if got, size := servertest.FileSHA256(t, out); got != sum || size != 1<<20 {
		t.Errorf("qemu-img convert out of the export: SHA-256 %s, %d bytes; want %s", got, size, sum)
	}
}

func TestE2EPythonDisk(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "qemu-img", "nbdinfo")
	disk := newDisk(t, 1<<20, 3, 4, 15)
	s := servertest.StartStack(t, Spec(), nil, testdataScript(t, "disk.py"), "file="+disk)

	servertest.QemuIO(t, s.URI(), "write -P 0x11 0 128k", "read -P 0x11 0 128k", "flush")
	servertest.QemuIO(t, s.ExportURI("small"), "read -P 0x11 0 64k")
	servertest.Nbdsh(t, s.ExportURI("small"),
		"assert h.get_size() == 65536",
		"assert h.is_rotational() and h.can_cache() and h.can_fua() and not h.can_fast_zero()",
		"h.cache(4096, 0)",
		"h.pwrite(b'x' * 512, 1024, nbd.CMD_FLAG_FUA)",
		"assert h.pread(512, 1024) == b'x' * 512",
		"e = []",
		"h.block_status(65536, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [65536, 0], e",
	)
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 1048576",
		"e = []",
		"h.block_status(1048576, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e[:4] == [196608, 0, 131072, 3], e",
	)

	list := servertest.MustRun(t, "nbdinfo", "--list", "--json", s.URI())
	var listed struct {
		Exports []struct {
			Name        string `json:"export-name"`
			Description string `json:"description"`
			Size        int64  `json:"export-size"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(list.Stdout), &listed); err != nil {
		t.Fatalf("nbdinfo --list --json: %v\n%s", err, list.Stdout)
	}
	if got := fmt.Sprint(listed.Exports); got != "[{main the whole file 1048576} {small its first 64 KiB 65536}]" {
		t.Errorf("exports %s", got)
	}

	src, sum := servertest.RandomFile(t, t.TempDir(), 1<<20)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, s.URI())
	out := filepath.Join(t.TempDir(), "out.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	for _, f := range []string{disk, out} {
		if got, _ := servertest.FileSHA256(t, f); got != sum {
			t.Errorf("%s: SHA-256 %s, want %s", f, got, sum)
		}
	}
}

func TestE2EErrorsReachTheClient(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	s := newScript(t, `get_size) echo 1M ;;
can_write) exit 0 ;;
pread) echo "EPERM you may not read at $4" >&2; exit 1 ;;
pwrite) cat >/dev/null; echo "ENOSPC no room" >&2; exit 1 ;;`)
	srv := servertest.StartStack(t, Spec(), nil, "script="+s.path)
	servertest.Nbdsh(t, srv.URI(),
		"try:\n  h.pwrite(b'a' * 512, 0)\n  assert False, 'pwrite succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'ENOSPC', e.string",
		"try:\n  h.pread(512, 4096)\n  assert False, 'pread succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'EPERM', e.string",
		"assert h.can_zero() and h.can_fast_zero()",
		"try:\n  h.zero(512, 0, nbd.CMD_FLAG_FAST_ZERO)\n  assert False, 'fast zero succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'ENOTSUP', e.string",
	)
	if r := servertest.RunQemuIO(t, srv.URI(), "write 0 4k"); !strings.Contains(r.Stdout+r.Stderr, "No space left on device") {
		t.Errorf("qemu-io write: %s", r)
	}
	if log := srv.Log.String(); !strings.Contains(log, "no room") || !strings.Contains(log, "you may not read at 4096") {
		t.Errorf("the server log lacks the scripts' messages:\n%s", log)
	}
}

func TestE2ESameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo", "qemu-io", "qemu-img")
	for _, script := range []string{"disk.sh", "disk.py"} {
		t.Run(script, func(t *testing.T) {
			path := testdataScript(t, script)
			disk := newDisk(t, 1<<20, 2, 5, 6, 15)
			ours, theirs := copyFile(t, disk), copyFile(t, disk)
			gonbd := servertest.StartStack(t, Spec(), nil, "script="+path, "file="+ours).URI()
			nbdkit := servertest.SocketURI(servertest.StartNbdkit(t, "sh", path, "file="+theirs), "")

			for _, args := range [][]string{{"--json"}, {"--map", "--json"}, {"--list", "--json"}} {
				if got, want := nbdinfoJSON(t, gonbd, args...), nbdinfoJSON(t, nbdkit, args...); !reflect.DeepEqual(got, want) {
					t.Errorf("nbdinfo %s:\ngonbd:  %v\nnbdkit: %v", strings.Join(args, " "), got, want)
				}
			}
			cmds := []string{"write -P 0x5a 70k 9k", "write -z 300k 64k", "discard 0 64k", "write -P 1 -f 1000k 24k", "flush"}
			servertest.QemuIO(t, gonbd, cmds...)
			servertest.QemuIO(t, nbdkit, cmds...)
			if a, b := sha(t, ours), sha(t, theirs); a != b {
				t.Errorf("after the same writes the files differ: gonbd's %s, nbdkit's %s", a, b)
			}
			if got, want := nbdinfoJSON(t, gonbd, "--map", "--json"), nbdinfoJSON(t, nbdkit, "--map", "--json"); !reflect.DeepEqual(got, want) {
				t.Errorf("map after the writes:\ngonbd:  %v\nnbdkit: %v", got, want)
			}
			a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", gonbd, a)
			servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", nbdkit, b)
			if sha(t, a) != sha(t, b) || sha(t, a) != sha(t, ours) {
				t.Error("reading the whole disk gives different bytes from gonbd and from nbdkit")
			}
		})
	}
}

func sha(t *testing.T, path string) string {
	sum, _ := servertest.FileSHA256(t, path)
	return sum
}

// nbdinfoJSON runs nbdinfo with args on uri and returns its JSON output, without what
// necessarily differs between two servers: the URIs, and the block sizes (gonbd
// advertises its defaults where nbdkit advertises none).
func nbdinfoJSON(t *testing.T, uri string, args ...string) any {
	t.Helper()
	r := servertest.MustRun(t, "nbdinfo", append(args, uri)...)
	var v any
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("nbdinfo %q: %v\n%s", args, err, r.Stdout)
	}
	if m, ok := v.(map[string]any); ok {
		exports, _ := m["exports"].([]any)
		for _, e := range exports {
			e := e.(map[string]any)
			for key := range e {
				if key == "uri" || strings.HasPrefix(key, "block_size_") {
					delete(e, key)
				}
			}
		}
	}
	return v
}
