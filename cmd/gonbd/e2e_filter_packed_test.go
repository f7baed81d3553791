package main

// End-to-end tests of the filters that unpack what the plugin serves (tar, bzip2,
// lzip, qcow2dec) through the gonbd binary, in front of the file plugin: the real
// tools make the archives and compressed files, the real clients read them back.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// e2ePackedData writes size bytes, the first half compressible, as dir/name, and
// returns the path and the SHA-256.
func e2ePackedData(t *testing.T, dir, name string, size int) (string, string) {
	t.Helper()
	path, _ := e2eRandomFile(t, dir, int64(size))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b[:size/2] {
		b[i] &= 0x0f
	}
	target := filepath.Join(dir, name)
	if err := os.WriteFile(target, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	sum, _ := e2eFileSHA256(t, target)
	return target, sum
}

// e2eTool runs a program in dir, failing the test unless it exits 0.
func e2eTool(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// e2eCopiedSum copies the export at uri out with nbdcopy and returns its SHA-256.
func e2eCopiedSum(t *testing.T, uri string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "copied.raw")
	e2eMustRun(t, "nbdcopy", uri, out)
	sum, _ := e2eFileSHA256(t, out)
	return sum
}

func TestE2EFilterTar(t *testing.T) {
	e2eStart(t, "tar", "nbdcopy", "qemu-io")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "vm"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, firstSum := e2ePackedData(t, src, "readme.txt", 5000)
	disk, sum := e2ePackedData(t, filepath.Join(src, "vm"), "disk.img", 2*e2eMiB+1000)
	archive := filepath.Join(dir, "images.tar")
	e2eTool(t, src, "tar", "--format=gnu", "-cf", archive, "readme.txt", "vm/disk.img")

	s := e2eUnix(t, "--filter=tar", "file", archive, "tar-entry=vm/disk.img")
	if got := e2eCopiedSum(t, s.URI); got != sum {
		t.Fatal("the member read through the filter differs from the file")
	}
	// Write in place, then unpack the archive: the member has changed, the rest not.
	e2eQemuIO(t, s.URI, "write -P 0x61 4096 8192", "flush")
	want, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	copy(want[4096:], bytes.Repeat([]byte{0x61}, 8192))
	unpacked := filepath.Join(dir, "unpacked")
	if err := os.Mkdir(unpacked, 0o755); err != nil {
		t.Fatal(err)
	}
	e2eTool(t, unpacked, "tar", "-xf", archive)
	if got, err := os.ReadFile(filepath.Join(unpacked, "vm", "disk.img")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the unpacked member does not hold the write: %v", err)
	}
	if got, _ := e2eFileSHA256(t, filepath.Join(unpacked, "readme.txt")); got != firstSum {
		t.Error("the write reached another member")
	}

	// A missing entry: the server runs, the client is refused, the log says why.
	missing := e2eUnix(t, "--filter=tar", "file", archive, "tar-entry=vm/other.img")
	if r := e2eRun(t, "nbdcopy", missing.URI, filepath.Join(dir, "none.raw")); r.Code == 0 {
		t.Errorf("nbdcopy of a missing entry succeeded: %s", r)
	}
	if log := missing.Stderr.String(); !e2eNbdkit() && !strings.Contains(log, `no such entry in the tar archive`) {
		t.Errorf("the log does not say the entry is missing:\n%s", log)
	}
}

func TestE2EFilterDecompress(t *testing.T) {
	e2eStart(t, "bzip2", "lzip", "qemu-img", "nbdcopy", "nbdsh")
	if e2eNbdkit() {
		t.Skip("nbdkit 1.32 has no bzip2, lzip or qcow2dec filter")
	}
	dir := t.TempDir()
	raw, sum := e2ePackedData(t, dir, "disk.raw", 3*e2eMiB)
	e2eTool(t, dir, "bzip2", "-k", "-1", "disk.raw")
	e2eTool(t, dir, "lzip", "-k", "-0", "-b", "256KiB", "disk.raw")
	e2eTool(t, dir, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", "-o", "compression_type=zstd", "disk.raw", "disk.qcow2")
	for _, tc := range []struct {
		filter, file string
	}{
		{"bzip2", raw + ".bz2"},
		{"lzip", raw + ".lz"},
		{"qcow2dec", filepath.Join(dir, "disk.qcow2")},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			s := e2eUnix(t, "--filter="+tc.filter, "file", tc.file)
			if got := e2eCopiedSum(t, s.URI); got != sum {
				t.Error("nbdcopy through the filter: not the original")
			}
			out := filepath.Join(t.TempDir(), "converted.raw")
			e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
			if got, _ := e2eFileSHA256(t, out); got != sum {
				t.Error("qemu-img convert through the filter: not the original")
			}
			e2eNbdsh(t, []string{"GONBD_URI=" + s.URI, "GONBD_RAW=" + raw}, `
import os, random
h = nbd.NBD()
h.connect_uri(os.environ["GONBD_URI"])
want = open(os.environ["GONBD_RAW"], "rb").read()
assert h.is_read_only() and h.get_size() == len(want)
rng = random.Random(11)
for n in range(100):
    off = rng.randrange(len(want)); cnt = rng.randint(1, min(100000, len(want) - off))
    assert h.pread(cnt, off) == want[off:off+cnt], (off, cnt)
`)
		})
	}
}

// TestE2EFilterTarOverBzip2 serves a member of a compressed archive, the filters
// stacked.
func TestE2EFilterTarOverBzip2(t *testing.T) {
	e2eStart(t, "tar", "bzip2", "nbdcopy")
	if e2eNbdkit() {
		t.Skip("nbdkit 1.32 has no bzip2 filter")
	}
	dir := t.TempDir()
	_, sum := e2ePackedData(t, dir, "disk.img", e2eMiB+512)
	e2ePackedData(t, dir, "notes.txt", 3000)
	e2eTool(t, dir, "tar", "-cjf", "images.tar.bz2", "notes.txt", "disk.img")
	s := e2eUnix(t, "--filter=tar", "--filter=bzip2", "file", filepath.Join(dir, "images.tar.bz2"), "tar-entry=disk.img")
	if got := e2eCopiedSum(t, s.URI); got != sum {
		t.Error("the member of the compressed archive differs from the file")
	}
}

func TestE2EFilterPackedBadParameters(t *testing.T) {
	e2eStart(t)
	f, _ := e2eRandomFile(t, t.TempDir(), 4096)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--filter=tar", "file", f}, "missing required parameter tar-entry"},
		{[]string{"--filter=tar", "file", f, "tar-entry=a", "tar-limit=far"}, "tar-limit=far"},
	}
	if !e2eNbdkit() {
		cases = append(cases, []struct {
			args []string
			want string
		}{
			{[]string{"--filter=bzip2", "file", f, "bzip2-max-depth=0"}, "bzip2-max-depth=0: the cache holds from 1 to 65536 blocks"},
			{[]string{"--filter=lzip", "file", f, "lzip-max-block=big"}, "lzip-max-block=big: could not parse size"},
			{[]string{"--filter=qcow2dec", "file", f, "qcow2dec-cache=1M"}, "unknown parameter qcow2dec-cache"},
		}...)
	}
	for _, tt := range cases {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !e2eNbdkit() && !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
