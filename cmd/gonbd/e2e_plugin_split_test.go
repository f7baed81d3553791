package main

// End-to-end tests of the split plugin through the gonbd binary.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EPluginSplit(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	// Three pieces of odd sizes adding up to 12 MiB (qemu-img copies whole sectors).
	sizes := []int{3*e2eMiB + 1, 5*e2eMiB - 4097, 4*e2eMiB + 4096}
	var pieces []string
	var all []byte
	for i, size := range sizes {
		path := filepath.Join(dir, "piece"+string(rune('0'+i)))
		b := bytes.Repeat([]byte{byte(i + 1)}, size)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, path)
		all = append(all, b...)
	}
	s := e2eUnix(t, append([]string{"split"}, pieces...)...)
	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
	sum := sha256.Sum256(all)
	if got, size := e2eFileSHA256(t, out); got != hex.EncodeToString(sum[:]) || size != int64(len(all)) {
		t.Errorf("copied out: %d bytes with SHA-256 %s, want the pieces' concatenation (%d bytes)", size, got, len(all))
	}

	// A write across the first boundary lands in both pieces. (nbdkit 1.32 writes
	// the part for a later piece at the export's offset instead of the piece's.)
	if e2eNbdkit() {
		return
	}
	e2eQemuIO(t, s.URI, "write -P 0xee 3145000 1000", "flush", "read -P 0xee 3145000 1000", "read -P 2 3146000 4096")
	first, err := os.ReadFile(pieces[0])
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(pieces[1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first[3145000:], bytes.Repeat([]byte{0xee}, 3*e2eMiB+1-3145000)) ||
		!bytes.Equal(second[:1000-(3*e2eMiB+1-3145000)], bytes.Repeat([]byte{0xee}, 1000-(3*e2eMiB+1-3145000))) ||
		second[1000-(3*e2eMiB+1-3145000)] != 2 {
		t.Error("the write across the boundary did not land in the right places of the pieces")
	}
}

func TestE2EPluginSplitBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	dir := t.TempDir()
	piece := filepath.Join(dir, "piece")
	if err := os.WriteFile(piece, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"split", piece, "/nonexistent"}, "split: file=/nonexistent: no such file or directory"},
		{[]string{"split", piece, "size=1M"}, "unknown parameter size"},
	}
	if !e2eNbdkit() { // nbdkit 1.32 serves an empty disk instead
		tests = append(tests, struct {
			args []string
			want string
		}{[]string{"split"}, "missing parameter"})
	}
	for _, tt := range tests {
		r := e2eRun(t, bin, append([]string{"-f", "-U", sock}, tt.args...)...)
		if r.Code != 1 || (!e2eNbdkit() && !strings.Contains(r.Stderr, tt.want)) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
