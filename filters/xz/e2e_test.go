package xz

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

// serveXz serves data through the filter with params, logging into the returned
// buffer.
func serveXz(t *testing.T, data []byte, params ...string) (*servertest.Server, *servertest.Disk, *servertest.LogBuffer) {
	t.Helper()
	d := diskOf(data)
	list := make([]server.Param, len(params))
	for i, kv := range params {
		list[i].Key, list[i].Value, _ = strings.Cut(kv, "=")
	}
	log := new(servertest.LogBuffer)
	layer, err := server.NewStack(d.Spec(), []server.FilterSpec{Spec()}, list, log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, layer, server.Options{Logger: log.Logger()}), d, log
}

// TestClientsReadTheImage compresses an image with xz(1) into 1 MiB blocks, as one
// stream and as two concatenated, and reads it whole with qemu-img and nbdcopy and in
// pieces with nbdsh.
func TestClientsReadTheImage(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdcopy", "nbdsh")
	img := testImage(e2eImageSize, 20)
	small := img[:e2eImageSize/4]
	for _, tt := range []struct {
		name string
		img  []byte
		xz   []byte
	}{
		{"one stream", img, xzCommand(t, img, "--block-size=1MiB")},
		{"two streams", small, slices.Concat(
			xzCommand(t, small[:len(small)/3], "--block-size=1MiB", "--check=crc32"),
			xzCommand(t, small[len(small)/3:], "--block-size=3MiB", "--check=sha256"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, want := tt.img, servertest.SHA256(tt.img)
			s, _, _ := serveXz(t, tt.xz)
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
	s, d, _ := serveXz(t, xzCommand(t, testImage(1<<20, 22), "--block-size=256KiB"))
	// qemu-io opens read-write and refuses a read-only export.
	r := servertest.RunQemuIO(t, s.URI(), "write -P 0x55 0 4k")
	if r.Code == 0 && !servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io wrote to an xz export: %s", r)
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

// TestCorruptBlockFailsReads flips a byte in one block: qemu-io and nbdsh read
// everything else, and the reads of that block fail with EIO, with the reason logged.
func TestCorruptBlockFailsReads(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "nbdcopy")
	img := testImage(4<<20, 23)
	for i := range img {
		img[i] |= 1
	}
	xz := xzCommand(t, img, "--block-size=1MiB")
	// Block 2 (1 MiB to 2 MiB) starts after two blocks; find its middle through a
	// second server's index instead of guessing.
	_, h := mustOpen(t, diskOf(xz).Layer(), Options{})
	b := h.(*handle).x.blocks[1]
	xz[b.in+b.unpadded/2] ^= 0x20
	s, _, log := serveXz(t, xz)
	if r := qemuIOReadOnly(t, s.URI(), "read 0 1M", "read 2M 2M"); r.Code != 0 || servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io could not read the sound blocks: %s", r)
	}
	r := qemuIOReadOnly(t, s.URI(), "read 1M 4k")
	if !servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io read the corrupt block: %s", r)
	}
	servertest.Nbdsh(t, s.URI(), fmt.Sprintf(`
try:
    h.pread(4096, %d)
    assert False, "the read succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e
`, b.out+b.size-4096))
	if r := servertest.Run(t, "nbdcopy", s.URI(), filepath.Join(t.TempDir(), "out.img")); r.Code == 0 {
		t.Errorf("nbdcopy copied a corrupt file: %s", r)
	}
	if !strings.Contains(log.String(), "is corrupt") {
		t.Errorf("the log does not say what failed:\n%s", log)
	}
}

// TestTruncatedFileIsNotServed checks that a file without its end (the index) is
// refused with the reason logged.
func TestTruncatedFileIsNotServed(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo")
	xz := xzCommand(t, testImage(1<<20, 24), "--block-size=256KiB")
	s, _, log := serveXz(t, xz[:len(xz)-100])
	if r := servertest.Run(t, "nbdinfo", s.URI()); r.Code == 0 {
		t.Errorf("nbdinfo succeeded on a truncated file: %s", r)
	}
	if !strings.Contains(log.String(), "cannot serve the xz file") {
		t.Errorf("the log does not say why:\n%s", log)
	}
}

// TestSameDataAsNbdkit serves the same multi-stream file with nbdkit's xz filter and
// compares what both servers return.
func TestSameDataAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdcopy")
	img := testImage(8<<20, 25)
	xz := slices.Concat(xzCommand(t, img[:3<<20], "--block-size=512KiB"), make([]byte, 8),
		xzCommand(t, img[3<<20:], "--block-size=1MiB", "--check=crc32"))
	dir := t.TempDir()
	path := filepath.Join(dir, "image.xz")
	if err := os.WriteFile(path, xz, 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, _ := serveXz(t, xz)
	ours := filepath.Join(dir, "ours.img")
	servertest.MustRun(t, "nbdcopy", s.URI(), ours)
	theirs := filepath.Join(dir, "theirs.img")
	servertest.MustRun(t, "nbdkit", "-U", "-", "--filter=xz", "file", path,
		"--run", "nbdcopy \"$uri\" "+theirs)
	oursSum, oursSize := servertest.FileSHA256(t, ours)
	theirsSum, theirsSize := servertest.FileSHA256(t, theirs)
	if oursSum != theirsSum || oursSize != theirsSize || oursSum != servertest.SHA256(img) {
		t.Errorf("gonbd served %d bytes (%s), nbdkit %d bytes (%s)", oursSize, oursSum, theirsSize, theirsSum)
	}
}

// qemuIOReadOnly runs qemu-io on a read-only raw export with one -c per command.
func qemuIOReadOnly(t *testing.T, uri string, cmds ...string) servertest.Result {
	t.Helper()
	args := []string{"-r", "-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return servertest.Run(t, "qemu-io", append(args, uri)...)
}
