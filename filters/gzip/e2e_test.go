package gzip

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// e2eImageSize is the size of the end-to-end tests' disk image.
const e2eImageSize = 64 << 20

// serveGzip serves gz through the filter and returns the server.
func serveGzip(t *testing.T, gz []byte, params ...string) (*servertest.Server, *servertest.Disk) {
	t.Helper()
	d := diskOf(gz)
	return servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, params...), d
}

// TestClientsReadTheImage compresses an image with gzip(1), as one member and as
// several concatenated, and reads it whole with qemu-img and nbdcopy and in pieces
// with nbdsh.
func TestClientsReadTheImage(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdcopy", "nbdsh", "qemu-io")
	needProgram(t, "gzip")
	img := testImage(e2eImageSize, 20)
	small := img[:e2eImageSize/4]
	third := len(small) / 3
	for _, tt := range []struct {
		name string
		img  []byte
		gz   []byte
	}{
		{"one member", img, gzipCommand(t, img)},
		{"three members", small, slices.Concat(
			gzipCommand(t, small[:third], "-1"),
			gzipCommand(t, small[third:2*third], "-9"),
			gzipCommand(t, small[2*third:]))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, want := tt.img, servertest.SHA256(tt.img)
			s, _ := serveGzip(t, tt.gz)
			dir := t.TempDir()
			out := filepath.Join(dir, "qemu.img")
			servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
			if sum, size := servertest.FileSHA256(t, out); sum != want || size != int64(len(img)) {
				t.Errorf("qemu-img convert: %d bytes, SHA-256 %s; want %d bytes, %s", size, sum, len(img), want)
			}
			out = filepath.Join(dir, "nbdcopy.img")
			servertest.MustRun(t, "nbdcopy", s.URI(), out)
			if sum, size := servertest.FileSHA256(t, out); sum != want || size != int64(len(img)) {
				t.Errorf("nbdcopy: %d bytes, SHA-256 %s; want %d bytes, %s", size, sum, len(img), want)
			}
			servertest.Nbdsh(t, s.URI(), randomReadChecks(img, 20)...)
		})
	}
}

// randomReadChecks returns nbdsh statements that read n random ranges and assert that
// they hash as the same ranges of img.
func randomReadChecks(img []byte, n int) []string {
	rng := rand.New(rand.NewPCG(21, 0))
	stmts := []string{
		"import hashlib",
		fmt.Sprintf("assert h.get_size() == %d, h.get_size()", len(img)),
		"assert h.is_read_only()",
	}
	for range n {
		off := rng.IntN(len(img))
		length := 1 + rng.IntN(min(len(img)-off, 1<<20))
		stmts = append(stmts, fmt.Sprintf(
			"assert hashlib.sha256(h.pread(%d, %d)).hexdigest() == %q, 'read at %d'",
			length, off, servertest.SHA256(img[off:off+length]), off))
	}
	return stmts
}

func TestWritesAreRefused(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	img := testImage(1<<20, 22)
	s, d := serveGzip(t, gzipBytes(t, img))
	// qemu-io opens read-write and refuses a read-only export.
	r := servertest.RunQemuIO(t, s.URI(), "write -P 0x55 0 4k")
	if r.Code == 0 && !servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io wrote to a gzip export: %s", r)
	}
	servertest.Nbdsh(t, s.URI(),
		"assert h.is_read_only()",
		"assert not h.can_trim() and not h.can_zero()",
		"assert h.can_multi_conn() and h.can_cache()",
		`
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "the write succeeded"
except nbd.Error as e:
    assert e.errno == "EPERM", e
`,
	)
	if n := d.Counts().Writes.Load(); n != 0 {
		t.Errorf("%d writes reached the compressed disk", n)
	}
}

// TestCorruptFilesAreNotServed checks what clients see of a corrupt file: no export,
// with the reason in the server's log, never data.
func TestCorruptFilesAreNotServed(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "qemu-io")
	needProgram(t, "gzip")
	img := testImage(4<<20, 23)
	gz := gzipCommand(t, img)
	flipped := slices.Clone(gz)
	flipped[len(gz)/2] ^= 0x01
	for _, tt := range []struct {
		name, log string
		data      []byte
	}{
		{"flipped byte", "member 1", flipped},
		{"truncated", "truncated", gz[:len(gz)-1000]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := serveGzip(t, tt.data)
			r := servertest.Run(t, "nbdinfo", s.URI())
			if r.Code == 0 {
				t.Errorf("nbdinfo succeeded on a corrupt file: %s", r)
			}
			r = servertest.RunQemuIO(t, s.URI(), "read 0 4k")
			if !servertest.QemuIOFailed(r) && r.Code == 0 {
				t.Errorf("qemu-io read a corrupt file: %s", r)
			}
			if log := s.Log.String(); !strings.Contains(log, "cannot serve the gzip file") || !strings.Contains(log, tt.log) {
				t.Errorf("the log does not say why (%q):\n%s", tt.log, log)
			}
		})
	}
}

// TestChangedFileFailsReads changes the compressed data under a running server: reads
// of what changed fail with EIO, never return other data.
func TestChangedFileFailsReads(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	img := testImage(2<<20, 24)
	for i := range img {
		img[i] |= 1 // no zero blocks: every read decompresses
	}
	gz := gzipBytes(t, img)
	s, d := serveGzip(t, gz, "gzip-span=64k", "gzip-cache=64k")
	servertest.Nbdsh(t, s.URI(), fmt.Sprintf("assert h.get_size() == %d", len(img)))
	for i := len(gz) / 2; i < len(gz)/2+64; i++ {
		gz[i] ^= 0x5a
	}
	d.SetBytes(gz[len(gz)/2:len(gz)/2+64], int64(len(gz)/2))
	servertest.Nbdsh(t, s.URI(),
		fmt.Sprintf(`
failed = 0
for off in range(0, %d, 65536):
    try:
        h.pread(65536, off)
    except nbd.Error as e:
        assert e.errno == "EIO", e
        failed += 1
assert failed > 0, "every read succeeded"
`, len(img)))
	if log := s.Log.String(); !strings.Contains(log, "decompress") {
		t.Errorf("the log does not say what failed:\n%s", log)
	}
}

// TestSameDataAsNbdkit serves the same file with nbdkit's gzip filter and compares
// what both servers return, extents aside (nbdkit reports all data).
func TestSameDataAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdcopy")
	needProgram(t, "gzip")
	img := testImage(8<<20, 25)
	gz := gzipCommand(t, img)
	dir := t.TempDir()
	path := filepath.Join(dir, "image.gz")
	if err := os.WriteFile(path, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := serveGzip(t, gz)
	ours := filepath.Join(dir, "ours.img")
	servertest.MustRun(t, "nbdcopy", s.URI(), ours)
	theirs := filepath.Join(dir, "theirs.img")
	servertest.MustRun(t, "nbdkit", "-U", "-", "--filter=gzip", "file", path,
		"--run", "nbdcopy \"$uri\" "+theirs)
	oursSum, oursSize := servertest.FileSHA256(t, ours)
	theirsSum, theirsSize := servertest.FileSHA256(t, theirs)
	if oursSum != theirsSum || oursSize != theirsSize {
		t.Errorf("gonbd served %d bytes (%s), nbdkit %d bytes (%s)", oursSize, oursSum, theirsSize, theirsSum)
	}
}
