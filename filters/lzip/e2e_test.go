package lzip_test

import (
	"context"
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/filters/lzip"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// makeFile writes size bytes of half-compressible data and their lzip compression with
// args, and returns the path of the data and the compressed file's contents.
func makeFile(t testing.TB, size int64, args ...string) (string, []byte) {
	t.Helper()
	servertest.NeedClient(t, "lzip")
	dir := t.TempDir()
	b := make([]byte, size)
	rand.Read(b)
	for i := range b[:size/2] {
		b[i] &= 0x03
	}
	path := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	servertest.MustRun(t, "lzip", append([]string{"-k"}, append(args, path)...)...)
	lz, err := os.ReadFile(path + ".lz")
	if err != nil {
		t.Fatal(err)
	}
	return path, lz
}

func diskOf(b []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(b)))
	d.SetBytes(b, 0)
	return d
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh", "nbdcopy", "lzip")
	raw, lz := makeFile(t, 1<<20, "-0", "-b", "100KiB")
	wantSum, _ := servertest.FileSHA256(t, raw)
	s := servertest.StartStack(t, diskOf(lz).Spec(), []server.FilterSpec{lzip.Spec()}, "lzip-max-depth=16")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.raw")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	if sum, _ := servertest.FileSHA256(t, out); sum != wantSum {
		t.Error("qemu-img convert through the filter: not the original")
	}
	copied := filepath.Join(dir, "copied.raw")
	servertest.MustRun(t, "nbdcopy", s.URI(), copied)
	if sum, _ := servertest.FileSHA256(t, copied); sum != wantSum {
		t.Error("nbdcopy through the filter: not the original")
	}
	servertest.Nbdsh(t, s.URI(),
		"import random",
		"want = open('"+raw+"', 'rb').read()",
		"assert h.get_size() == len(want)",
		"assert h.is_read_only() and not h.can_trim() and h.can_cache()",
		"h.cache(512 << 10, 0)",
		"rng = random.Random(3)",
		"for n in range(200):\n"+
			"  off = rng.randrange(len(want)); cnt = rng.randint(1, min(100000, len(want) - off))\n"+
			"  assert h.pread(cnt, off) == want[off:off+cnt], (off, cnt)",
	)
}

func TestDamagedEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "lzip")
	_, lz := makeFile(t, 512<<10, "-0", "-b", "100KiB")
	lz[len(lz)-30] ^= 0x10 // in the last member's stream
	s := servertest.StartStack(t, diskOf(lz).Spec(), []server.FilterSpec{lzip.Spec()})
	servertest.Nbdsh(t, s.URI(),
		"h.pread(4096, 0)", // the first member is intact
		"try:\n  h.pread(4096, h.get_size() - 4096)\n  assert False, 'read succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'EIO', e",
	)
	if log := s.Log.String(); !strings.Contains(log, "lzip member") {
		t.Errorf("the log does not say what is wrong:\n%s", log)
	}

	// Truncated: the client is refused, and the log says why.
	cut := servertest.StartStack(t, diskOf(lz[:len(lz)-5]).Spec(), []server.FilterSpec{lzip.Spec()})
	if r := servertest.Run(t, "nbdsh", "-u", cut.URI(), "-c", "h.get_size()"); r.Code == 0 {
		t.Errorf("a truncated file was opened: %s", r)
	}
	if log := cut.Log.String(); !strings.Contains(log, "truncated") {
		t.Errorf("the log does not say why:\n%s", log)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"lzip-max-block=huge", "lzip-max-block=huge: could not parse size"},
		{"lzip-max-block=0", "lzip-max-block=0: the limit must be at least 1 byte"},
		{"lzip-max-depth=0", "lzip-max-depth=0: the cache holds from 1 to 65536 members"},
		{"lzip-max-depth=-2", "lzip-max-depth=-2"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{lzip.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func BenchmarkRandomRead4K(b *testing.B) {
	if _, err := exec.LookPath("lzip"); err != nil {
		b.Skip("lzip is not installed")
	}
	const size = 16 << 20
	_, lz := makeFile(b, size, "-0", "-b", "256KiB")
	l, err := lzip.New(diskOf(lz).Layer(), lzip.Options{})
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
}
