package qcow2dec_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/filters/qcow2dec"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// makeImage converts a new random-and-zeroes raw disk of size bytes to qcow2 with opts,
// and returns the raw disk's path and the image's contents.
func makeImage(t testing.TB, size int64, opts ...string) (string, []byte) {
	t.Helper()
	servertest.NeedClient(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	b := make([]byte, size)
	// In every MiB: data that compresses (random nibbles), data that does not, zeroes.
	for off := int64(0); off < size; off += 1 << 20 {
		rand.Read(b[off : off+min(300<<10, size-off)])
		for i := off; i < off+min(150<<10, size-off); i++ {
			b[i] &= 0x0f
		}
	}
	if err := os.WriteFile(raw, b, 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.qcow2")
	servertest.MustRun(t, "qemu-img", append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, opts...), raw, img)...)
	image, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return raw, image
}

func diskOf(b []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(b)))
	d.SetBytes(b, 0)
	return d
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "qemu-io", "nbdsh", "nbdcopy")
	for _, tc := range []struct {
		name string
		opts []string
	}{
		{"zlib", []string{"-c"}},
		{"zstd", []string{"-c", "-o", "compression_type=zstd"}},
		{"extended-l2", []string{"-o", "extended_l2=on"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, image := makeImage(t, 16<<20, tc.opts...)
			wantSum, _ := servertest.FileSHA256(t, raw)
			s := servertest.StartStack(t, diskOf(image).Spec(), []server.FilterSpec{qcow2dec.Spec()})
			dir := t.TempDir()
			out := filepath.Join(dir, "out.raw")
			servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
			if sum, _ := servertest.FileSHA256(t, out); sum != wantSum {
				t.Error("qemu-img convert through the filter: not the raw disk")
			}
			copied := filepath.Join(dir, "copied.raw")
			servertest.MustRun(t, "nbdcopy", s.URI(), copied)
			if sum, _ := servertest.FileSHA256(t, copied); sum != wantSum {
				t.Error("nbdcopy through the filter: not the raw disk")
			}
			servertest.Nbdsh(t, s.URI(),
				"import random",
				"want = open('"+raw+"', 'rb').read()",
				"assert h.get_size() == len(want)",
				"assert h.is_read_only() and not h.can_trim() and not h.can_zero() and h.can_cache()",
				"h.cache(4 << 20, 0)",
				"rng = random.Random(7)",
				"for n in range(300):\n"+
					"  off = rng.randrange(len(want)); cnt = rng.randint(1, min(200000, len(want) - off))\n"+
					"  assert h.pread(cnt, off) == want[off:off+cnt], (off, cnt)",
				// Every MiB starts with 300 KiB of data and ends with zeroes, which
				// qemu-img convert left unallocated: holes.
				"e = []",
				"h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
				"assert e[0] >= 300 << 10 and e[1] == 0 and e[-1] == 3, e",
			)
			// qemu-io refuses to open a read-only export for writing.
			if r := servertest.RunQemuIO(t, s.URI(), "write -P 1 0 4k"); r.Code == 0 && !servertest.QemuIOFailed(r) {
				t.Errorf("qemu-io wrote to the decoded image: %s", r)
			}
		})
	}
}

func TestCorruptImageEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh")
	_, image := makeImage(t, 4<<20, "-c")
	// The L1 table's first entry points at an L2 table; make it point past the end.
	l1 := int64(image[40])<<56 | int64(image[41])<<48 | int64(image[42])<<40 | int64(image[43])<<32 |
		int64(image[44])<<24 | int64(image[45])<<16 | int64(image[46])<<8 | int64(image[47])
	copy(image[l1:], []byte{0x80, 0, 0, 0, 0x10, 0, 0, 0})
	s := servertest.StartStack(t, diskOf(image).Spec(), []server.FilterSpec{qcow2dec.Spec()})
	servertest.Nbdsh(t, s.URI(),
		"try:\n  h.pread(4096, 0)\n  assert False, 'read succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'EIO', e",
	)
	if log := s.Log.String(); !strings.Contains(log, "corrupt qcow2 image: L1 entry 0 points to an L2 table at 268435456") {
		t.Errorf("the log does not say what is wrong:\n%s", log)
	}

	// Not qcow2 at all: the client is refused, and the log says why.
	bad := servertest.StartStack(t, diskOf(bytes.Repeat([]byte("raw "), 1024)).Spec(), []server.FilterSpec{qcow2dec.Spec()})
	if r := servertest.Run(t, "nbdsh", "-u", bad.URI(), "-c", "h.get_size()"); r.Code == 0 {
		t.Errorf("a raw disk was opened: %s", r)
	}
	if !strings.Contains(bad.Log.String(), "not a qcow2 image") {
		t.Errorf("the log does not say why:\n%s", bad.Log.String())
	}
}

func TestBadParameters(t *testing.T) {
	if _, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{qcow2dec.Spec()}, "qcow2dec-depth=3"); err == nil ||
		!strings.Contains(err.Error(), "unknown parameter qcow2dec-depth") {
		t.Errorf("an unknown parameter: %v", err)
	}
}

func BenchmarkRandomRead4K(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []string
	}{{"plain", nil}, {"zlib", []string{"-c"}}, {"zstd", []string{"-c", "-o", "compression_type=zstd"}}} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := exec.LookPath("qemu-img"); err != nil {
				b.Skip("qemu-img is not installed")
			}
			const size = 64 << 20
			_, image := makeImage(b, size, tc.opts...)
			l, err := qcow2dec.New(diskOf(image).Layer(), qcow2dec.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			h, err := l.Open(ctx, server.OpenRequest{})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Prepare(ctx, true); err != nil {
				b.Fatal(err)
			}
			offsets := make([]int64, 4096)
			for i := range offsets {
				n, _ := rand.Int(rand.Reader, big.NewInt(size/4096))
				offsets[i] = n.Int64() * 4096
			}
			buf := make([]byte, 4096)
			b.SetBytes(4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.ReadAt(ctx, buf, offsets[i%len(offsets)], 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
