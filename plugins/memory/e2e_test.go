package memory

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// testImageFile writes an image of size bytes to dir, runs of random bytes, text and
// zeroes, and returns its path and SHA-256.
func testImageFile(t *testing.T, dir string, size int) (string, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	img := make([]byte, size)
	for pos := 0; pos < size; {
		n := min(size-pos, 1+rng.IntN(1<<20))
		switch rng.IntN(3) {
		case 0:
			for i := pos; i+8 <= pos+n; i += 8 {
				binary.LittleEndian.PutUint64(img[i:], rng.Uint64())
			}
		case 1:
			copy(img[pos:pos+n], strings.Repeat("compressible text, ", n/19+1))
		}
		pos += n
	}
	path := filepath.Join(dir, "image.raw")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, servertest.SHA256(img)
}

// TestZstdThroughClients fills a zstd RAM disk with nbdcopy and qemu-io, reads it back
// with qemu-img and qemu-io, and compares its extents with those of nbdkit's zstd
// allocator holding the same data.
func TestZstdThroughClients(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img", "qemu-io", "nbdinfo", "nbdkit")
	const size = 64 << 20
	dir := t.TempDir()
	in, want := testImageFile(t, dir, size)
	s := servertest.StartStack(t, Spec(), nil, "size=64M", "allocator=zstd")

	servertest.MustRun(t, "nbdcopy", in, s.URI())
	out := filepath.Join(dir, "out.raw")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	if sum, n := servertest.FileSHA256(t, out); sum != want || n != size {
		t.Errorf("read back %d bytes with SHA-256 %s, want %d bytes, %s", n, sum, size, want)
	}
	servertest.QemuIO(t, s.URI(),
		"write -P 0x5a 1000k 100k", "read -P 0x5a 1000k 100k",
		"write -z 2M 1M", "read -P 0 2M 1M",
		"discard 4M 64k", "read -P 0 4M 64k")

	ours := servertest.MustRun(t, "nbdinfo", "--map", s.URI()).Stdout
	theirs := servertest.MustRun(t, "nbdkit", "-U", "-", "memory", "64M", "allocator=zstd", "--run",
		`nbdcopy `+in+` "$uri" && qemu-io -f raw -c "write -P 0x5a 1000k 100k" -c "write -z 2M 1M" -c "discard 4M 64k" "$uri" >/dev/null && nbdinfo --map "$uri"`).Stdout
	if ours != theirs {
		t.Errorf("extents differ from nbdkit's:\n gonbd:\n%s\n nbdkit:\n%s", ours, theirs)
	}
}
