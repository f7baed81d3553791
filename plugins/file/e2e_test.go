package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EQemuImgConvert copies a random file out through gonbd and back in, with
// qemu-img convert, comparing SHA-256 sums.
func TestE2EQemuImgConvert(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img")
	dir := t.TempDir()
	src, sum := servertest.RandomFile(t, dir, 64<<20)

	out := servertest.StartStack(t, Spec(), nil, "file="+src)
	copied := filepath.Join(dir, "copied.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", out.URI(), copied)
	if got, size := servertest.FileSHA256(t, copied); got != sum || size != 64<<20 {
		t.Errorf("copied out: %d bytes with SHA-256 %s, want %d bytes with %s", size, got, 64<<20, sum)
	}

	dst := sparseTestFile(t, 64<<20)
	in := servertest.StartStack(t, Spec(), nil, "file="+dst, "cache=none")
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, in.URI())
	if got, _ := servertest.FileSHA256(t, dst); got != sum {
		t.Errorf("copied in with cache=none: SHA-256 %s, want %s", got, sum)
	}
}

// TestE2ENbdcopy copies with nbdcopy, which uses several connections (the plugin
// offers multi-conn) and many requests in flight.
func TestE2ENbdcopy(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy")
	dir := t.TempDir()
	src, sum := servertest.RandomFile(t, dir, 32<<20+12345) // not a multiple of anything
	s := servertest.StartStack(t, Spec(), nil, "file="+src)
	copied := filepath.Join(dir, "copied.img")
	servertest.MustRun(t, "nbdcopy", s.URI(), copied)
	if got, _ := servertest.FileSHA256(t, copied); got != sum {
		t.Errorf("nbdcopy out: SHA-256 %s, want %s", got, sum)
	}

	dst := sparseTestFile(t, 32<<20+12345)
	d := servertest.StartStack(t, Spec(), nil, "file="+dst, "fadvise=sequential")
	servertest.MustRun(t, "nbdcopy", src, d.URI())
	if got, _ := servertest.FileSHA256(t, dst); got != sum {
		t.Errorf("nbdcopy in: SHA-256 %s, want %s", got, sum)
	}
}

// TestE2EQemuIO writes and reads patterns with qemu-io and checks the file itself.
func TestE2EQemuIO(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io")
	for _, cache := range []string{"default", "none"} {
		t.Run("cache="+cache, func(t *testing.T) {
			path := sparseTestFile(t, 8<<20+1000)
			s := servertest.StartStack(t, Spec(), nil, "file="+path, "cache="+cache)
			servertest.QemuIO(t, s.URI(),
				"write -P 0xab 0 64k",
				"write -P 0xcd 1000 3000", // unaligned
				"write -P 0xef 8m 1000",   // the partial last block
				"write -z 1m 1m",
				"write -P 0x11 -f 2m 4k", // FUA
				"flush",
				"read -P 0xab 0 1000",
				"read -P 0xcd 1000 3000",
				"read -P 0xab 4000 60k",
				"read -P 0xef 8m 1000",
				"read -P 0 1m 1m",
				"read -P 0x11 2m 4k",
			)
			got := readFile(t, path)
			want := make([]byte, 8<<20+1000)
			copy(want, bytes.Repeat([]byte{0xab}, 64<<10))
			copy(want[1000:], bytes.Repeat([]byte{0xcd}, 3000))
			copy(want[8<<20:], bytes.Repeat([]byte{0xef}, 1000))
			copy(want[2<<20:], bytes.Repeat([]byte{0x11}, 4096))
			if !bytes.Equal(got, want) {
				t.Error("the file does not hold what qemu-io wrote")
			}
		})
	}
}

// TestE2EReadOnly serves a file with the server read-only (gonbd -r): clients see a
// read-only export, their writes fail, and the file is unchanged.
func TestE2EReadOnly(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	contents := bytes.Repeat([]byte{1}, 65536)
	path := writeTestFile(t, contents)
	layer, err := servertest.Stack(Spec(), nil, path)
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, layer, server.Options{ReadOnly: true})
	servertest.Nbdsh(t, s.URI(),
		"assert h.is_read_only() and not h.can_trim() and not h.can_zero()",
		"h.set_strict_mode(0)", // let the write reach the server
		"import errno",
		"try:\n    h.pwrite(b'x' * 512, 0)\n    raise AssertionError('the write succeeded')\n"+
			"except nbd.Error as e:\n    assert e.errnum == errno.EPERM, e",
		"assert h.pread(65536, 0) == b'\\x01' * 65536",
	)
	r := servertest.MustRun(t, "qemu-io", "-r", "-f", "raw", "-c", "read -P 1 0 64k", s.URI())
	if servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io -r: %s", r)
	}
	if !bytes.Equal(readFile(t, path), contents) {
		t.Error("the file changed")
	}
}

// nbdinfoList returns the export names `nbdinfo --list --json` shows, sorted.
func nbdinfoList(t *testing.T, uri string) []string {
	t.Helper()
	r := servertest.MustRun(t, "nbdinfo", "--list", "--json", uri)
	var list struct {
		Exports []struct {
			Name string `json:"export-name"`
			Size int64  `json:"export-size"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("nbdinfo --list --json: %v\n%s", err, r.Stdout)
	}
	var names []string
	for _, e := range list.Exports {
		names = append(names, fmt.Sprintf("%s:%d", e.Name, e.Size))
	}
	slices.Sort(names)
	return names
}

// TestE2EDirList lists a directory's exports with nbdinfo, as nbdkit lists them, and
// opens one by name with qemu-io.
func TestE2EDirList(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "qemu-io")
	dir := testDir(t)
	s := servertest.StartStack(t, Spec(), nil, "dir="+dir)
	got := nbdinfoList(t, s.URI())
	want := []string{"a.img:1024", "b.img:2048", "link.img:3072"}
	if !slices.Equal(got, want) {
		t.Errorf("nbdinfo --list: %v, want %v", got, want)
	}
	if uri := nbdkitURI(t, "file", "dir="+dir); uri != "" {
		if ref := nbdinfoList(t, uri); !slices.Equal(got, ref) {
			t.Errorf("nbdinfo --list: gonbd %v, nbdkit %v", got, ref)
		}
	}
	servertest.QemuIO(t, s.ExportURI("b.img"), "read -P 0x62 0 2k") // 'b'
	if r := servertest.Run(t, "nbdinfo", s.ExportURI("missing.img")); r.Code == 0 {
		t.Errorf("nbdinfo of an export that does not exist succeeded: %s", r)
	}
	if r := servertest.Run(t, "nbdinfo", s.URI()); r.Code == 0 {
		t.Errorf("nbdinfo of the default export of a directory succeeded: %s", r)
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
