package main

// End-to-end tests of the view-shaping and feature-switch filters (offset, truncate,
// blocksize, blocksize-policy, swab, extentlist, ddrescue, exportname, protect,
// checkwrite, noextents, nozero, noparallel, nofilter, fua, multi-conn) through the
// gonbd binary and the real clients.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// viewNbdsh connects nbdsh to uri (with base:allocation) and runs the Python lines.
func viewNbdsh(t *testing.T, uri string, lines ...string) e2eResult {
	t.Helper()
	script := "import errno, os, hashlib\nh = nbd.NBD()\nh.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)\nh.connect_uri(os.environ['VIEW_URI'])\n" +
		strings.Join(lines, "\n")
	return e2eNbdsh(t, []string{"VIEW_URI=" + uri}, script)
}

// TestE2EFilterViewStack stacks offset, truncate and blocksize over a RAM disk and
// checks unaligned writes and reads through the stack against a model of the disk.
func TestE2EFilterViewStack(t *testing.T) {
	e2eStart(t, "nbdsh", "qemu-io")
	// The client sees [100000, 300000) of a 300000-byte view of a 256 KiB disk whose
	// requests arrive in 4 KiB blocks: bytes from 162144 on lie past the disk's end.
	const diskSize, offset, size = 256 << 10, 100000, 200000
	s := e2eUnix(t, "--filter=offset", "--filter=truncate", "--filter=blocksize", "memory", "256k",
		"offset=100000", "truncate=300000", "minblock=4k", "maxdata=8k")
	disk := make([]byte, diskSize)
	type write struct {
		off  int
		data []byte
	}
	var writes []write
	for i, off := range []int{0, 1, 4095, 5000, 77777, 100000, 162000} {
		n := 1 + (i*7919)%20000
		if off+n > diskSize-offset {
			n = diskSize - offset - off
		}
		writes = append(writes, write{off, bytes.Repeat([]byte{byte(0x40 + i)}, n)})
	}
	var py []string
	for _, w := range writes {
		copy(disk[offset+w.off:], w.data)
		py = append(py, fmt.Sprintf("h.pwrite(bytes([%d]) * %d, %d)", w.data[0], len(w.data), w.off))
	}
	view := append(append([]byte(nil), disk[offset:]...), make([]byte, size-(diskSize-offset))...)
	sum := sha256.Sum256(view)
	py = append(py,
		fmt.Sprintf("assert h.get_size() == %d", size),
		fmt.Sprintf("assert hashlib.sha256(h.pread(%d, 0)).hexdigest() == %q", size, hex.EncodeToString(sum[:])),
		"h.zero(10, 4090)",
		"assert h.pread(12, 4088) == bytes([0x41]) * 2 + bytes(10)",
		// Past the disk's end, zeroes may be written, anything else is ENOSPC.
		"h.pwrite(bytes(100), 180000)",
		"try:\n    h.pwrite(b'x', 190000)\n    assert False, 'a write past the end succeeded'\nexcept nbd.Error as e:\n    assert e.errnum == errno.ENOSPC, e",
		"print('OK')",
	)
	if r := viewNbdsh(t, s.URI, py...); !strings.HasSuffix(r.Stdout, "OK\n") {
		t.Errorf("nbdsh: %s", r)
	}
	e2eQemuIO(t, s.URI, "read -P 0x40 0 1", "read -P 0x41 1 10", "read -P 0 4090 5", "read -P 0x45 100000 1", "read -P 0 170000 30000")
}

// TestE2EFilterViewEach runs each filter once through the binary with a real client.
func TestE2EFilterViewEach(t *testing.T) {
	e2eStart(t, "nbdsh", "nbdinfo")
	dir := t.TempDir()
	extents := filepath.Join(dir, "extents.txt")
	mapfile := filepath.Join(dir, "disk.map")
	if err := os.WriteFile(extents, []byte("0 64k\n512k 64k hole,zero\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mapfile, []byte("# ddrescue\n0x0 +\n0x0 0x10000 +\n0x10000 0x1000 -\n0x11000 0xef000 +\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter string
		args   []string
		py     []string
	}{
		{"offset", []string{"offset=1k", "range=4k"}, []string{"assert h.get_size() == 4096"}},
		{"truncate", []string{"round-up=1M", "truncate=1000"}, []string{"assert h.get_size() == 1 << 20"}},
		{"blocksize", []string{"minblock=4k"}, []string{"h.pwrite(b'abc', 5)", "assert h.pread(5, 4) == b'\\x00abc\\x00'"}},
		{"blocksize-policy", []string{"blocksize-preferred=32k", "blocksize-minimum=512"}, []string{
			"assert h.get_block_size(nbd.SIZE_PREFERRED) == 32768",
			"assert h.get_block_size(nbd.SIZE_MINIMUM) == 512"}},
		{"swab", []string{"swab-bits=16"}, []string{"h.pwrite(b'ab', 0)", "assert h.pread(2, 0) == b'ab'",
			"assert h.get_block_size(nbd.SIZE_MINIMUM) == 2"}},
		{"extentlist", []string{"extentlist=" + extents}, []string{
			"e = []",
			"h.block_status(1 << 20, 0, lambda c, o, ents, err: e.extend(ents))",
			"assert e == [65536, 0, (1 << 20) - 65536, 3], e"}},
		{"ddrescue", []string{"ddrescue-mapfile=" + mapfile}, []string{
			"assert h.is_read_only()", "h.pread(4096, 0)",
			"try:\n    h.pread(4096, 65536)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.EIO, e"}},
		{"exportname", []string{"exportname-list=explicit", "exportname=one", "exportname=two", "exportdesc=fixed:hello"}, nil},
		{"protect", []string{"protect=0-511"}, []string{
			"h.pwrite(bytes(512), 0)", "h.pwrite(b'x', 512)",
			"try:\n    h.pwrite(b'x', 511)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.EPERM, e"}},
		{"checkwrite", nil, []string{
			"h.pwrite(bytes(4096), 0)", "h.zero(4096, 8192)",
			"try:\n    h.pwrite(b'x', 0)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.EIO, e"}},
		{"noextents", nil, []string{
			"e = []",
			"h.block_status(1 << 20, 0, lambda c, o, ents, err: e.extend(ents))",
			"assert e == [1 << 20, 0], e"}},
		{"nozero", nil, []string{"assert not h.can_zero()"}},
		{"nozero", []string{"zeromode=emulate"}, []string{"assert h.can_zero() and h.can_fast_zero()", "h.zero(4096, 0)"}},
		{"noparallel", []string{"serialize=connections"}, []string{"assert not h.can_multi_conn()", "h.pread(512, 0)"}},
		{"nofilter", nil, []string{"h.pwrite(b'x', 0)", "assert h.pread(1, 0) == b'x'"}},
		{"fua", nil, []string{"assert not h.can_fua()", "h.flush()"}}, // fuamode=none, the default
		{"fua", []string{"fuamode=discard"}, []string{"assert h.can_fua()", "h.pwrite(b'x', 0, nbd.CMD_FLAG_FUA)"}},
		{"multi-conn", []string{"multi-conn-mode=disable"}, []string{"assert not h.can_multi_conn()"}},
		{"multi-conn", []string{"multi-conn-mode=emulate"}, []string{"assert h.can_multi_conn()", "h.pwrite(b'x', 0, nbd.CMD_FLAG_FUA)", "h.flush()"}},
	} {
		t.Run(tc.filter+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"--filter=" + tc.filter, "memory", "1M"}, tc.args...)
			s := e2eUnix(t, args...)
			if tc.filter == "exportname" {
				r := e2eMustRun(t, "nbdinfo", "--list", s.URI)
				if !strings.Contains(r.Stdout, "export=\"one\"") || !strings.Contains(r.Stdout, "export=\"two\"") ||
					!strings.Contains(r.Stdout, "description: hello") {
					t.Errorf("nbdinfo --list:\n%s", r.Stdout)
				}
				return
			}
			if r := viewNbdsh(t, s.URI, append(tc.py, "print('OK')")...); !strings.HasSuffix(r.Stdout, "OK\n") {
				t.Errorf("nbdsh: %s", r)
			}
		})
	}
}

// TestE2EFilterViewBadParameters: each filter refuses a bad parameter with exit status
// 1 and a message naming it.
func TestE2EFilterViewBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	for _, tc := range []struct {
		filter, param, want string
	}{
		{"offset", "offset=-1", `offset=-1: size "-1" is negative`},
		{"truncate", "round-up=3", "round-up=3: the round-up parameter must be a power of 2"},
		{"blocksize", "minblock=3", "minblock=3: must be a power of 2"},
		{"blocksize-policy", "blocksize-error-policy=ignore", "blocksize-error-policy=ignore: unknown policy"},
		{"swab", "swab-bits=12", "swab-bits=12: must be 8, 16, 32 or 64"},
		{"extentlist", "extentlist=/nonexistent", "extentlist=/nonexistent: open /nonexistent"},
		{"ddrescue", "ddrescue-mapfile=/nonexistent", "ddrescue-mapfile=/nonexistent: open /nonexistent"},
		{"exportname", "exportname-list=all", "exportname-list=all: unknown mode"},
		{"protect", "protect=9-3", "protect=9-3: invalid range, end < start"},
		{"nozero", "zeromode=fast", "zeromode=fast: unknown mode"},
		{"noparallel", "serialize=sometimes", "serialize=sometimes: unknown serialization mode"},
		{"fua", "fuamode=sometimes", "fuamode=sometimes: unknown mode"},
		{"multi-conn", "multi-conn-mode=always", "multi-conn-mode=always: unknown mode"},
		{"checkwrite", "checkwrite=yes", "unknown parameter checkwrite"},
		{"noextents", "noextents=yes", "unknown parameter noextents"},
		{"nofilter", "nofilter=yes", "unknown parameter nofilter"},
	} {
		r := e2eRun(t, bin, "-U", filepath.Join(t.TempDir(), "sock"), "--filter="+tc.filter, "memory", "1M", tc.param)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("--filter=%s %s: %s\nwant exit status 1 and %q", tc.filter, tc.param, r, tc.want)
		}
	}
}
