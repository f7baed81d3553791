package eval

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// fileDisk are the bodies of the manual's second example, the file plugin written as
// eval snippets, with extents added.
var fileDisk = []string{
	`config=ln -sf "$(realpath "$3")" $tmpdir/file`,
	`get_size=stat -Lc %s $tmpdir/file`,
	`pread=dd if=$tmpdir/file skip=$4 count=$3 iflag=count_bytes,skip_bytes status=none`,
	`pwrite=dd of=$tmpdir/file seek=$4 conv=notrunc oflag=seek_bytes status=none`,
	`zero=dd if=/dev/zero of=$tmpdir/file seek=$4 count=$3 iflag=count_bytes oflag=seek_bytes conv=notrunc status=none`,
	`extents=if cmp -s -n $3 -i $4:0 $tmpdir/file /dev/zero; then echo $4 $3 zero; else echo $4 $3; fi`,
	`thread_model=echo parallel`,
}

func TestE2EZeroDisk(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdinfo", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, zeroDisk...)
	r := servertest.MustRun(t, "qemu-io", "-r", "-f", "raw", "-c", "read -P 0 0 1M", "-c", "read -P 0 63M 1M", s.URI())
	if servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io: %s", r)
	}
	out := servertest.MustRun(t, "nbdinfo", "--size", s.URI()).Stdout
	if strings.TrimSpace(out) != "67108864" {
		t.Errorf("nbdinfo --size: %q", out)
	}
	servertest.Nbdsh(t, s.URI(),
		"assert h.is_read_only()",
		"try:\n  h.pwrite(b'a' * 512, 0)\n  assert False, 'pwrite succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'EPERM', e.string",
	)
}

func TestE2EFileDisk(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "qemu-img", "nbdsh")
	disk, _ := servertest.RandomFile(t, t.TempDir(), 1<<20)
	s := servertest.StartStack(t, Spec(), nil, slices.Concat(fileDisk, []string{"file=" + disk})...)

	servertest.QemuIO(t, s.URI(), "write -P 0x42 4k 60k", "read -P 0x42 4k 60k", "write -z 512k 64k")
	servertest.Nbdsh(t, s.URI(),
		"assert not h.is_read_only() and h.can_zero() and not h.can_fast_zero() and not h.can_flush()",
		"e = []",
		"h.block_status(65536, 524288, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [65536, 2], e",
	)

	src, sum := servertest.RandomFile(t, t.TempDir(), 1<<20)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, s.URI())
	if got, _ := servertest.FileSHA256(t, disk); got != sum {
		t.Errorf("after qemu-img convert the file's SHA-256 is %s, want %s", got, sum)
	}
	out := filepath.Join(t.TempDir(), "out.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	if got, _ := servertest.FileSHA256(t, out); got != sum {
		t.Errorf("reading the export back: SHA-256 %s, want %s", got, sum)
	}
}

func TestE2EErrors(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, slices.Concat(zeroDisk, []string{
		`pwrite=cat >/dev/null; echo "ENOSPC no room" >&2; exit 1`,
		`trim=echo EINVALID >&2; exit 1`,
	})...)
	servertest.Nbdsh(t, s.URI(),
		"try:\n  h.pwrite(b'a' * 4096, 0)\n  assert False, 'pwrite succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'ENOSPC', e.string",
		"try:\n  h.trim(4096, 0)\n  assert False, 'trim succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'EIO', e.string",
	)
	if log := s.Log.String(); !strings.Contains(log, "no room") {
		t.Errorf("the server log lacks the script's message:\n%s", log)
	}
}

func TestE2ESameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo", "qemu-io")
	disk, _ := servertest.RandomFile(t, t.TempDir(), 1<<20)
	ours, theirs := copyFile(t, disk), copyFile(t, disk)
	bodies := slices.Concat(fileDisk, []string{"flush=sync $tmpdir/file", "can_multi_conn=exit 0", "is_rotational=exit 0"})
	gonbd := servertest.StartStack(t, Spec(), nil, slices.Concat(bodies, []string{"file=" + ours})...).URI()
	nbdkit := servertest.SocketURI(servertest.StartNbdkit(t, slices.Concat([]string{"eval"}, bodies, []string{"file=" + theirs})...), "")

	cmds := []string{"write -P 0x5a 70k 9k", "write -z 256k 64k", "write -P 1 -f 1000k 24k", "flush"}
	servertest.QemuIO(t, gonbd, cmds...)
	servertest.QemuIO(t, nbdkit, cmds...)
	for _, args := range [][]string{{"--json"}, {"--map", "--json"}} {
		if got, want := nbdinfoJSON(t, gonbd, args...), nbdinfoJSON(t, nbdkit, args...); !reflect.DeepEqual(got, want) {
			t.Errorf("nbdinfo %s:\ngonbd:  %v\nnbdkit: %v", strings.Join(args, " "), got, want)
		}
	}
	a, _ := servertest.FileSHA256(t, ours)
	b, _ := servertest.FileSHA256(t, theirs)
	if a != b {
		t.Errorf("after the same writes the files differ: gonbd's %s, nbdkit's %s", a, b)
	}
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
