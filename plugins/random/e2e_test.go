package random

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2ECopyOntoItself copies the disk onto itself, as nbdkit's manual suggests to
// test copying programs: nbdcopy and qemu-img must write every byte where it
// belongs, or the plugin fails the copy.
func TestE2ECopyOntoItself(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img")
	uri := servertest.StartStack(t, Spec(), nil, "32M", "seed=1").URI()
	servertest.MustRun(t, "nbdcopy", uri, uri)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", uri, uri)
}

// TestE2EWritesAreChecked copies the disk to a file and back, then changes a byte of
// the file and copies it back again, which must fail.
func TestE2EWritesAreChecked(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, "4M", "seed=2")
	file := filepath.Join(t.TempDir(), "disk.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), file)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", file, s.URI())

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[3<<20] ^= 0xff
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := servertest.Run(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", file, s.URI())
	if r.Code == 0 || !strings.Contains(r.Stderr, "Input/output error") {
		t.Errorf("copying a changed image onto the disk: %s", r)
	}
	servertest.Nbdsh(t, s.URI(),
		"assert h.can_trim() and h.can_zero() and not h.can_fast_zero() and not h.can_flush()",
		"b = h.pread(4096, 12345); h.pwrite(b, 12345)",
		"def err(f):\n try:\n  f()\n except nbd.Error as e:\n  return e.errno\n return 'no error'",
		"assert err(lambda: h.pwrite(bytes(4096), 0)) == 'EIO'",
		"assert err(lambda: h.zero(4096, 0)) == 'EIO'",
		"assert err(lambda: h.trim(4096, 0)) == 'EIO'",
	)
	// The same seed gives the same disk on another server.
	again := servertest.StartStack(t, Spec(), nil, "4M", "seed=2")
	sum1 := servertest.Nbdsh(t, s.URI(), "import hashlib; print(hashlib.sha256(h.pread(4 << 20, 0)).hexdigest())").Stdout
	sum2 := servertest.Nbdsh(t, again.URI(), "import hashlib; print(hashlib.sha256(h.pread(4 << 20, 0)).hexdigest())").Stdout
	if sum, _ := servertest.FileSHA256(t, file); sum1 != sum2 || strings.TrimSpace(sum1) == sum {
		t.Errorf("checksums: first server %s, second %s, changed file %s", sum1, sum2, sum)
	}
}

// TestE2EMatchesNbdkit compares what clients are offered by gonbd's random plugin and
// nbdkit's, and the errors they get. The bytes themselves differ: each server has its
// own generator.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	ours := servertest.StartStack(t, Spec(), nil, "1M", "seed=3").URI()
	theirs := servertest.SocketURI(servertest.StartNbdkit(t, "random", "1M", "seed=3"), "")
	tryAll := "def err(f):\n try:\n  f()\n except nbd.Error as e:\n  return e.errno\n return 'ok'\n" +
		"print([err(f) for f in [lambda: h.pwrite(h.pread(512, 0), 0), lambda: h.pwrite(bytes(512), 0)," +
		" lambda: h.trim(512, 0), lambda: h.zero(512, 0), lambda: h.cache(512, 0)]])"
	servertest.SameAsNbdkit(t, ours, theirs, []string{"content"},
		"e = []; h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents)); print(e)",
		tryAll,
	)
}
