package main

// End-to-end tests of the data plugin through the gonbd binary.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EPluginData(t *testing.T) {
	e2eStart(t, "qemu-io", "nbdsh", "nbdinfo")

	// The data is the magic parameter; the disk is writable.
	s := e2eUnix(t, "data", "1 2 3 @0x200 0x55 0xaa")
	e2eQemuIO(t, s.URI,
		"read -P 1 0 1", "read -P 3 2 1", "read -P 0 3 509", "read -P 0x55 0x200 1", "read -P 0xaa 0x201 1",
		"write -P 0xcd 0 512", "read -P 0xcd 0 512", "read -P 0x55 0x200 1",
	)
	if size := strings.TrimSpace(e2eMustRun(t, "nbdinfo", "--size", s.URI).Stdout); size != "514" {
		t.Errorf("nbdinfo --size: %s, want 514", size)
	}

	// Variables, files, scripts, names and slices, padded to a size; the extents show
	// what was written and what was not.
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("FILE"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = e2eUnix(t, "data",
		`$pattern*4 <`+file+`[1:3] <(printf script) -> \s \s[0:3] @1048576 "end" (le32:0xdeadbeef ) -> \w \w`,
		"pattern=0x55 0xAA", "size=2M")
	e2eNbdsh(t, []string{"GONBD_URI=" + s.URI}, `
import os
h = nbd.NBD()
h.add_meta_context("base:allocation")
h.connect_uri(os.environ["GONBD_URI"])
assert h.get_size() == 2 << 20
assert h.pread(13, 0) == b"\x55\xaa" * 4 + b"ILscr", h.pread(13, 0)
assert h.pread(7, 1 << 20) == b"end\xef\xbe\xad\xde"
assert h.pread(1000, 13) == bytes(1000)
e = []
h.block_status(2 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))
assert e == [32768, 0, (1 << 20) - 32768, 3, 32768, 0, (1 << 20) - 32768, 3], e
`)
}

func TestE2EPluginDataBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"data"}, "exactly once, with one of data=, raw= or base64="},
		{[]string{"data", "1 2 (3"}, `data parameter at offset 4 ("(3"): unmatched '('`},
		{[]string{"data", "1 2 $x", "x=3 \"oops"}, `in $x at offset 2 ("\"oops"): unterminated string`},
		{[]string{"data", "1", "size=banana"}, "size=banana"},
		{[]string{"data", "raw=x", "colour=red"}, "unknown parameter colour"},
		{[]string{"data", "1", "allocator=bogus"}, `unknown allocator "bogus"`},
		{[]string{"data", `1 \nope`}, `\nope is not defined`},
		{[]string{"data", "1 <(exit 3)"}, "<(SCRIPT) failed: exit status 3"},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
