package main

// End-to-end tests of the overlay and caching filters (cow, cache, cacheextents,
// readahead, nocache, scan) through the gonbd binary, stacked as users stack them.

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestE2EFilterOverlayStack stacks cow in front of cache in front of cacheextents over
// a RAM disk: qemu-io writes, nbdsh reads back, checks block status and the
// capabilities cow gives, and qemu-img copies the whole disk out.
func TestE2EFilterOverlayStack(t *testing.T) {
	e2eStart(t, "qemu-io", "nbdsh", "qemu-img")
	s := e2eUnix(t, "--filter=cow", "--filter=cache", "--filter=cacheextents",
		"memory", "64M", "cache-on-read=true", "cow-block-size=64k")
	e2eQemuIO(t, s.URI,
		"write -P 0xab 1M 256k",
		"write -P 0xcd 1048577 1000", // partial blocks: read-modify-write in the overlay
		"write -z 1088k 64k",
		"flush",
		"read -P 0xab 1M 1",
		"read -P 0xcd 1048577 1000",
		"read -P 0xab 1049577 47k",
		"read -P 0 1088k 64k",
		"read -P 0xab 1152k 128k",
	)
	overlayNbdsh(t, s.URI,
		"assert h.can_multi_conn() and h.can_trim() and h.can_zero() and h.can_cache()",
		"assert h.pread(1000, 1048577) == b'\\xcd' * 1000",
		"h.trim(64 << 10, 0)",
		"assert h.pread(4096, 0) == bytes(4096)",
		"e = []",
		"h.block_status(2 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		// The written blocks are data, the zeroed one a hole, the rest the RAM disk's holes.
		"assert e[:8] == [1 << 20, 3, 64 << 10, 0, 64 << 10, 3, 128 << 10, 0], e",
	)
	out := filepath.Join(t.TempDir(), "out.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
	e2eQemuIO(t, out, "read -P 0 0 1M", "read -P 0xcd 1048577 1000", "read -P 0 1088k 64k", "read -P 0 2M 62M")
}

// TestE2EFilterOverlayReadPath writes a disk, then reads it back through readahead and
// scan in front of a writeback cache, 4 KiB at a time, and copies it out with qemu-img.
func TestE2EFilterOverlayReadPath(t *testing.T) {
	e2eStart(t, "nbdsh", "qemu-img", "nbdcopy")
	dir := t.TempDir()
	in, sum := e2eRandomFile(t, dir, 8*e2eMiB)
	s := e2eUnix(t, "--filter=readahead", "--filter=scan", "--filter=cache", "memory", "8M", "scan-size=1M")
	e2eMustRun(t, "nbdcopy", in, s.URI)
	overlayNbdsh(t, s.URI,
		"import hashlib",
		"sha = hashlib.sha256()",
		"for off in range(0, h.get_size(), 4096): sha.update(h.pread(4096, off))",
		"assert sha.hexdigest() == '"+sum+"', sha.hexdigest()",
	)
	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
	if got, _ := e2eFileSHA256(t, out); got != sum {
		t.Error("the disk copied out differs from what nbdcopy wrote")
	}
}

// TestE2EFilterNocache checks each cachemode as clients see it.
func TestE2EFilterNocache(t *testing.T) {
	e2eStart(t, "nbdsh")
	for _, tt := range []struct {
		mode     string
		canCache string
	}{{"none", "False"}, {"emulate", "True"}, {"nop", "True"}} {
		s := e2eUnix(t, "--filter=nocache", "memory", "1M", "cachemode="+tt.mode)
		stmts := []string{"assert h.can_cache() == " + tt.canCache}
		if tt.canCache == "True" {
			stmts = append(stmts, "h.cache(1 << 20, 0)")
		}
		overlayNbdsh(t, s.URI, stmts...)
	}
}

func TestE2EFilterOverlayBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter=cow", "memory", "1M", "cow-block-size=1000"}, "cow-block-size=1000: the block size must be a power of 2"},
		{[]string{"--filter=cow", "memory", "1M", "cow-on-read=relative"}, "cow-on-read=relative"},
		{[]string{"--filter=cache", "memory", "1M", "cache=sometimes"}, "cache=sometimes: unknown mode"},
		{[]string{"--filter=cache", "memory", "1M", "cache-max-size=1M", "cache-low-threshold=90", "cache-high-threshold=50"}, "0 < low < high"},
		{[]string{"--filter=nocache", "memory", "1M", "cachemode=sometimes"}, "cachemode=sometimes: unknown mode"},
		{[]string{"--filter=scan", "memory", "1M", "scan-size=3M"}, "scan-size=3145728: the size must be a power of 2"},
		{[]string{"--filter=scan", "memory", "1M", "scan-forever=maybe"}, "scan-forever=maybe"},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}

// overlayNbdsh runs nbdsh statements with h connected to uri, base:allocation requested.
func overlayNbdsh(t *testing.T, uri string, stmts ...string) {
	t.Helper()
	connect := []string{"h = nbd.NBD()", "h.add_meta_context('base:allocation')", "h.connect_uri('" + uri + "')"}
	e2eNbdsh(t, nil, append(connect, stmts...)...)
}
