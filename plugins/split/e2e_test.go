package split

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// fileParams returns file=PATH parameters for paths.
func fileParams(paths []string) []string {
	params := make([]string, len(paths))
	for i, p := range paths {
		params[i] = "file=" + p
	}
	return params
}

// TestE2EQemuImgConvert reads three files of odd sizes through gonbd with qemu-img
// convert: the copy is their concatenation. (Their total is a multiple of 512, as
// qemu-img rounds the size of what it copies up to one.)
func TestE2EQemuImgConvert(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img")
	paths, all := testFiles(t, 5<<20+3, 7<<20+1001, 13<<20-1004)
	s := servertest.StartStack(t, Spec(), nil, fileParams(paths)...)
	copied := filepath.Join(t.TempDir(), "copied.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), copied)
	if got, size := servertest.FileSHA256(t, copied); got != servertest.SHA256(all) || size != int64(len(all)) {
		t.Errorf("copied out: %d bytes with SHA-256 %s, want %d bytes with %s", size, got, len(all), servertest.SHA256(all))
	}
}

// TestE2ENbdcopyIn writes an image over three files with nbdcopy (several
// connections, many requests in flight) and checks that each file got its share.
func TestE2ENbdcopyIn(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy")
	sizes := []int{3<<20 + 5, 1, 4<<20 - 5}
	paths, _ := testFiles(t, sizes...)
	src, sum := servertest.RandomFile(t, t.TempDir(), 7<<20+1)
	s := servertest.StartStack(t, Spec(), nil, fileParams(paths)...)
	servertest.MustRun(t, "nbdcopy", src, s.URI())
	if got := servertest.SHA256(concatenation(t, paths)); got != sum {
		t.Errorf("the files after nbdcopy: SHA-256 %s, want %s", got, sum)
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i, path := range paths {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[off:off+sizes[i]]) {
			t.Errorf("file %d does not hold bytes [%d, %d) of the image", i, off, off+sizes[i])
		}
		off += sizes[i]
	}
}

// TestE2EQemuIOAcrossBoundaries writes patterns across the files' boundaries with
// qemu-io and checks where the bytes landed.
func TestE2EQemuIOAcrossBoundaries(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io")
	paths, all := testFiles(t, 1000, 4096, 70000)
	s := servertest.StartStack(t, Spec(), nil, fileParams(paths)...)
	servertest.QemuIO(t, s.URI(),
		"write -P 0x55 900 200",    // a into b
		"write -P 0x66 4000 2000",  // b into c
		"write -P 0x77 -f 0 75096", // everything, FUA
		"write -P 0x88 999 4098",   // the last byte of a, all of b, the first byte of c
		"flush",
		"read -P 0x77 0 999",
		"read -P 0x88 999 4098",
		"read -P 0x77 5097 69999",
	)
	for i := range all {
		all[i] = 0x77
	}
	copy(all[999:], bytes.Repeat([]byte{0x88}, 4098))
	got := [][]byte{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if !bytes.Equal(got[0], all[:1000]) || !bytes.Equal(got[1], all[1000:5096]) || !bytes.Equal(got[2], all[5096:]) {
		t.Error("the files do not hold what qemu-io wrote across their boundaries")
	}
	if got[0][999] != 0x88 || got[2][0] != 0x88 || got[2][1] != 0x77 {
		t.Errorf("the write of [999, 5097) landed wrong: a ends %#x, c starts %#x %#x", got[0][999], got[2][0], got[2][1])
	}
}
