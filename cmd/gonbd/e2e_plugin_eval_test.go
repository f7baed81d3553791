package main

// End-to-end tests of the eval plugin through the gonbd binary.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EPluginEval(t *testing.T) {
	e2eStart(t, "qemu-io", "qemu-img", "nbdinfo")
	zeroes := e2eUnix(t, "eval", "get_size=echo 64M", "pread=dd if=/dev/zero count=$3 iflag=count_bytes status=none")
	if r := e2eMustRun(t, "nbdinfo", "--size", zeroes.URI); strings.TrimSpace(r.Stdout) != "67108864" {
		t.Errorf("nbdinfo --size: %s", r)
	}
	if r := e2eMustRun(t, "qemu-io", "-r", "-f", "raw", "-c", "read -P 0 60M 1M", zeroes.URI); e2eQemuIOFailed(r) {
		t.Errorf("reading zeroes: %s", r)
	}

	// The manual's file plugin in fragments.
	disk, _ := e2eRandomFile(t, t.TempDir(), e2eMiB)
	s := e2eUnix(t, "eval",
		`config=ln -sf "$(realpath "$3")" $tmpdir/file`,
		`get_size=stat -Lc %s $tmpdir/file`,
		`pread=dd if=$tmpdir/file skip=$4 count=$3 iflag=count_bytes,skip_bytes status=none`,
		`pwrite=dd of=$tmpdir/file seek=$4 conv=notrunc oflag=seek_bytes status=none`,
		"file="+disk)
	e2eQemuIO(t, s.URI, "write -P 0x77 100k 10k", "read -P 0x77 100k 10k")
	data, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[100<<10:110<<10], bytes.Repeat([]byte{0x77}, 10<<10)) {
		t.Error("the write did not reach the file")
	}
	out := filepath.Join(t.TempDir(), "out.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
	if a, b := e2eSHA(t, disk), e2eSHA(t, out); a != b {
		t.Errorf("reading the export back: SHA-256 %s, the file's %s", b, a)
	}
}

func e2eSHA(t *testing.T, path string) string {
	sum, _ := e2eFileSHA256(t, path)
	return sum
}

func TestE2EPluginEvalBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "get_size=echo 1M", "size=1"}, "no config method to take the parameter size=1"},
		{[]string{"eval", "get_size=echo 1M", "get_size=echo 2M"}, "method get_size defined more than once"},
		{[]string{"eval", "config=echo EINVAL bad $2 >&2; exit 1", "colour=blue"}, "bad colour"},
		{[]string{"eval", "get_size"}, `expecting key=value on the command line but got "get_size"`},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
