package bzip2_test

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
	"time"

	"github.com/gonbd/gonbd/filters/bzip2"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// makeData writes size bytes, half of them compressible, to a file and returns its
// path and contents.
func makeData(t testing.TB, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	for i := range b[:size/2] {
		b[i] &= 0x07
	}
	path := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// compressChunks compresses each chunk of data as a stream of its own and concatenates
// the streams, as pbzip2 does.
func compressChunks(t testing.TB, data []byte, chunk int, level string) []byte {
	t.Helper()
	servertest.NeedClient(t, "bzip2")
	var out bytes.Buffer
	for off := 0; off < len(data); off += chunk {
		cmd := exec.Command("bzip2", "-c", level)
		cmd.Stdin = bytes.NewReader(data[off:min(off+chunk, len(data))])
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func diskOf(b []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(b)))
	d.SetBytes(b, 0)
	return d
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh", "nbdcopy", "bzip2")
	raw, data := makeData(t, 600<<10)
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"one stream", compressChunks(t, data, len(data), "-1")},
		{"streams", compressChunks(t, data, 200000, "-9")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servertest.StartStack(t, diskOf(tc.file).Spec(), []server.FilterSpec{bzip2.Spec()}, "bzip2-max-depth=32")
			dir := t.TempDir()
			want := servertest.SHA256(data)
			out := filepath.Join(dir, "out.raw")
			servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
			if sum, _ := servertest.FileSHA256(t, out); sum != want {
				t.Error("qemu-img convert through the filter: not the original")
			}
			copied := filepath.Join(dir, "copied.raw")
			servertest.MustRun(t, "nbdcopy", s.URI(), copied)
			if sum, _ := servertest.FileSHA256(t, copied); sum != want {
				t.Error("nbdcopy through the filter: not the original")
			}
			servertest.Nbdsh(t, s.URI(),
				"import random",
				"want = open('"+raw+"', 'rb').read()",
				"assert h.get_size() == len(want)",
				"assert h.is_read_only() and not h.can_zero() and h.can_cache()",
				"h.cache(200000, 0)",
				"rng = random.Random(5)",
				"for n in range(100):\n"+
					"  off = rng.randrange(len(want)); cnt = rng.randint(1, min(200000, len(want) - off))\n"+
					"  assert h.pread(cnt, off) == want[off:off+cnt], (off, cnt)",
			)
		})
	}
}

func TestDamagedEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "bzip2")
	_, data := makeData(t, 400<<10)
	file := compressChunks(t, data, len(data), "-1")

	// Damaged before the first connection: indexing fails, the client is refused.
	bad := bytes.Clone(file)
	bad[len(bad)/2] ^= 0x04
	s := servertest.StartStack(t, diskOf(bad).Spec(), []server.FilterSpec{bzip2.Spec()})
	if r := servertest.Run(t, "nbdsh", "-u", s.URI(), "-c", "h.get_size()"); r.Code == 0 {
		t.Errorf("a damaged file was opened: %s", r)
	}
	if log := s.Log.String(); !strings.Contains(log, "does not decode") {
		t.Errorf("the log does not say why:\n%s", log)
	}

	// Damaged once indexed: reads of the damaged block fail with EIO.
	d := diskOf(file)
	s = servertest.StartStack(t, d.Spec(), []server.FilterSpec{bzip2.Spec()})
	servertest.Nbdsh(t, s.URI(), "assert h.get_size() == 400 << 10")
	d.SetBytes([]byte{file[len(file)-1000] ^ 0x01}, int64(len(file)-1000))
	servertest.Nbdsh(t, s.URI(),
		"h.pread(4096, 0)", // the first block is intact
		"try:\n  h.pread(4096, h.get_size() - 4096)\n  assert False, 'read succeeded'\nexcept nbd.Error as e:\n  assert e.errno == 'EIO', e",
	)
	if log := s.Log.String(); !strings.Contains(log, "bzip2 block") {
		t.Errorf("the log does not say what is wrong:\n%s", log)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"bzip2-max-depth=0", "bzip2-max-depth=0: the cache holds from 1 to 65536 blocks"},
		{"bzip2-max-depth=many", "bzip2-max-depth=many: could not parse number"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{bzip2.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func BenchmarkRandomRead4K(b *testing.B) {
	if _, err := exec.LookPath("bzip2"); err != nil {
		b.Skip("bzip2 is not installed")
	}
	const size = 16 << 20
	_, data := makeData(b, size)
	l, err := bzip2.New(diskOf(compressChunks(b, data, size, "-1")).Layer(), bzip2.Options{})
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

// TestIndexesAtStartUp checks that the server indexes the file before any client
// connects, so that the first one need not wait for all of it.
func TestIndexesAtStartUp(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "bzip2")
	_, data := makeData(t, 300<<10)
	d := diskOf(compressChunks(t, data, len(data), "-1"))
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{bzip2.Spec()})
	// The indexing opens a handle of its own, and closes it when done.
	deadline := time.Now().Add(servertest.Timeout)
	for d.Counts().Closes.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the file was not indexed at start-up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := d.Counts().BytesRead.Load()
	servertest.Nbdsh(t, s.URI(), "assert h.get_size() == 300 << 10", "h.pread(4096, 0)")
	// The connection read one block, not the whole file again.
	if read := d.Counts().BytesRead.Load() - before; read >= int64(len(d.Bytes())) {
		t.Errorf("the connection read %d bytes of the %d-byte file", read, len(d.Bytes()))
	}
}
