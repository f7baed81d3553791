package main

// End-to-end tests of the xz and gzip filters through the gonbd binary in front of the
// file plugin, as users serve downloaded images, and of the memory plugin's zstd
// allocator: what the clients read is the image, byte for byte.

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// e2eCompressImage writes a 32 MiB image with random and zero regions to dir and
// returns its path and SHA-256.
func e2eCompressImage(t *testing.T, dir string) (string, string) {
	t.Helper()
	img := make([]byte, 32*e2eMiB)
	for off := 0; off < len(img); off += 4 * e2eMiB {
		// 1.5 MiB of random data every 4 MiB; the rest zeroes.
		if _, err := rand.Read(img[off : off+3*e2eMiB/2]); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, _ := e2eFileSHA256(t, path)
	return path, sum
}

func TestE2EFilterCompress(t *testing.T) {
	e2eStart(t, "xz", "gzip", "nbdcopy", "qemu-img", "nbdsh")
	dir := t.TempDir()
	img, want := e2eCompressImage(t, dir)
	e2eMustRun(t, "xz", "-k", "-T1", "--block-size=1MiB", img)
	e2eMustRun(t, "gzip", "-k", img)
	for _, tt := range []struct{ filter, file string }{
		{"xz", img + ".xz"},
		{"gzip", img + ".gz"},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			s := e2eUnix(t, "--filter="+tt.filter, "file", tt.file)
			out := filepath.Join(t.TempDir(), "nbdcopy.img")
			e2eMustRun(t, "nbdcopy", s.URI, out)
			if sum, size := e2eFileSHA256(t, out); sum != want || size != 32*e2eMiB {
				t.Errorf("nbdcopy: %d bytes, SHA-256 %s, want the image's %s", size, sum, want)
			}
			out = filepath.Join(t.TempDir(), "qemu.img")
			e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
			if sum, _ := e2eFileSHA256(t, out); sum != want {
				t.Errorf("qemu-img convert: SHA-256 %s, want the image's %s", sum, want)
			}
			// Reads at random places, compared with the file itself.
			e2eNbdsh(t, nil,
				"h = nbd.NBD()",
				"h.connect_uri("+pyQuote(s.URI)+")",
				"import random",
				"f = open("+pyQuote(img)+", 'rb').read()",
				"assert h.is_read_only() and h.get_size() == len(f)",
				`
for i in range(50):
    off = random.randrange(len(f))
    n = random.randrange(1, min(len(f) - off, 3 << 20) + 1)
    assert h.pread(n, off) == f[off:off+n], (off, n)
`)
		})
	}
}

// pyQuote quotes s as a Python string literal.
func pyQuote(s string) string { return fmt.Sprintf("%q", s) }

func TestE2EPluginMemoryZstd(t *testing.T) {
	e2eStart(t, "nbdcopy", "qemu-io", "nbdinfo")
	dir := t.TempDir()
	img, want := e2eCompressImage(t, dir)
	s := e2eUnix(t, "memory", "32M", "allocator=zstd")
	e2eMustRun(t, "nbdcopy", img, s.URI)
	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "nbdcopy", s.URI, out)
	if sum, _ := e2eFileSHA256(t, out); sum != want {
		t.Errorf("the zstd RAM disk reads back with SHA-256 %s, want %s", sum, want)
	}
	e2eQemuIO(t, s.URI, "write -P 0xab 2M 1M", "read -P 0xab 2M 1M", "write -z 0 4M", "read -P 0 0 4M")
	dump := e2eMustRun(t, e2eServerBinary(t), "memory", "1M", "--dump-plugin").Stdout
	if !strings.Contains(dump, "zstd=yes") {
		t.Errorf("--dump-plugin does not say zstd=yes:\n%s", dump)
	}
}

func TestE2EFilterCompressBadParameters(t *testing.T) {
	e2eStart(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "disk.xz")
	if err := os.WriteFile(f, []byte("not compressed at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := e2eServerBinary(t)
	sock := filepath.Join(dir, "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter=xz", "file", f, "xz-max-depth=0"}, "xz-max-depth=0"},
		{[]string{"--filter=xz", "file", f, "xz-max-block=huge"}, "xz-max-block=huge"},
		{[]string{"--filter=gzip", "file", f, "gzip-span=1k"}, "gzip-span"},
		{[]string{"--filter=gzip", "file", f, "gzip-cache=lots"}, "gzip-cache=lots"},
		{[]string{"memory", "1M", "allocator=zstd,level=9"}, "allocator=zstd does not take extra parameters"},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !e2eNbdkit() && !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}

// TestE2EFilterCompressNotCompressed serves a file that is not compressed: the server
// runs, clients cannot connect, and the log says why.
func TestE2EFilterCompressNotCompressed(t *testing.T) {
	e2eStart(t, "nbdinfo")
	f, _ := e2eRandomFile(t, t.TempDir(), 64<<10)
	for _, filter := range []string{"xz", "gzip"} {
		s := e2eUnix(t, "--filter="+filter, "file", f)
		if r := e2eRun(t, "nbdinfo", s.URI); r.Code == 0 {
			t.Errorf("%s: nbdinfo of an uncompressed file succeeded: %s", filter, r)
		}
		if log := s.Stderr.String(); !e2eNbdkit() && !strings.Contains(log, "cannot serve the "+filter+" file") {
			t.Errorf("%s: the log does not say why:\n%s", filter, log)
		}
	}
}
