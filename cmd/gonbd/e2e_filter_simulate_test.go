package main

// End-to-end tests of the filters that simulate or reshape a disk (count, evil, map,
// openonce, readonly, rotational, spinning) through the gonbd binary and the real
// clients. nbdkit 1.32 has none of them, so they run against gonbd only.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// simulateStart skips the test under -short, without the clients, and against nbdkit.
func simulateStart(t *testing.T, clients ...string) {
	t.Helper()
	e2eStart(t, clients...)
	if e2eNbdkit() {
		t.Skip("nbdkit 1.32 has none of these filters")
	}
}

// simulateNbdsh connects nbdsh to uri and runs the Python lines.
func simulateNbdsh(t *testing.T, uri string, lines ...string) e2eResult {
	t.Helper()
	script := "import errno, os, time\nh = nbd.NBD()\nh.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)\n" +
		"h.connect_uri(os.environ['SIMULATE_URI'])\n" + strings.Join(lines, "\n")
	return e2eNbdsh(t, []string{"SIMULATE_URI=" + uri}, script)
}

// TestE2EFilterCount: the totals are printed when gonbd stops, here by SIGTERM.
func TestE2EFilterCount(t *testing.T) {
	simulateStart(t, "nbdsh", "qemu-io")
	s := e2eUnix(t, "--filter=count", "memory", "1M")
	e2eQemuIO(t, s.URI, "write -P 1 0 64k", "write -z 64k 64k", "read -P 1 0 4k")
	simulateNbdsh(t, s.URI, "h.trim(4096, 128 * 1024)", "h.pread(1000, 0)")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.exitCode(e2eClientTimeout); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, s.Stderr)
	}
	want := "count: read 5096 bytes, written 65536 bytes, zeroed 65536 bytes, trimmed 4096 bytes\n"
	if !strings.Contains(s.Stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, s.Stderr)
	}
}

// TestE2EFilterEvil: stuck bits stay put between reads, cosmic rays do not.
func TestE2EFilterEvil(t *testing.T) {
	simulateStart(t, "nbdsh")
	s := e2eUnix(t, "--filter=evil", "memory", "1M", "evil-probability=1:1000", "evil-seed=2")
	simulateNbdsh(t, s.URI,
		"a = h.pread(1 << 20, 0)",
		"assert a == b''.join(h.pread(4096, off) for off in range(0, 1 << 20, 4096))",
		"ones = sum(bin(x).count('1') for x in a)",
		"expected = (1 << 20) * 8 * 0.001 / 2", // on zeroes only the bits stuck high show
		"assert 0.8 * expected < ones < 1.2 * expected, ones",
	)
	s = e2eUnix(t, "--filter=evil", "memory", "1M", "evil=cosmic-rays", "evil-probability=1%")
	simulateNbdsh(t, s.URI, "assert h.pread(65536, 0) != h.pread(65536, 0)")
}

// TestE2EFilterMap: a map file and inline mappings move writes to where they say in a
// disk image, and reads back from there.
func TestE2EFilterMap(t *testing.T) {
	simulateStart(t, "nbdsh", "qemu-io")
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(dir, "swap.map")
	if err := os.WriteFile(mapFile, []byte("# swap the halves\n0,512k 512k\n512k- 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e2eUnix(t, "--filter=map", "file", disk, "map="+mapFile)
	e2eQemuIO(t, s.URI, "write -P 0x11 0 4k", "write -P 0x22 512k 4k", "read -P 0x11 0 4k")
	simulateNbdsh(t, s.URI, "assert h.pread(4096, 524288) == b'\\x22' * 4096")
	// Two inline mappings swap the first two KiB.
	s2 := e2eUnix(t, "--filter=map", "file", disk, "map=0-1023:1024", "map=1024,1024:0")
	e2eQemuIO(t, s2.URI, "write -P 0x33 0 1k", "write -P 0x44 1k 1k", "read -P 0x33 0 1k", "read -P 0x44 1k 1k")
	got, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		off, n int
		b      byte
	}{{0, 1024, 0x44}, {1024, 1024, 0x33}, {2048, 2048, 0x22}, {512 << 10, 4096, 0x11}} {
		for i := w.off; i < w.off+w.n; i++ {
			if got[i] != w.b {
				t.Fatalf("disk byte %d is %#x, want %#x", i, got[i], w.b)
			}
		}
	}
}

// TestE2EFilterOpenonce: several clients, one open of the plugin.
func TestE2EFilterOpenonce(t *testing.T) {
	simulateStart(t, "nbdsh", "qemu-io")
	s := e2eUnix(t, "-v", "--filter=openonce", "memory", "1M")
	e2eQemuIO(t, s.URI, "write -P 0x5a 0 64k")
	simulateNbdsh(t, s.URI, "assert h.pread(65536, 0) == b'\\x5a' * 65536")
	e2eQemuIO(t, s.URI, "read -P 0x5a 0 64k")
	if n := strings.Count(s.Stderr.String(), "opened the shared handle"); n != 1 {
		t.Errorf("the shared handle was opened %d times for three clients, want once:\n%s", n, s.Stderr)
	}
}

// TestE2EFilterReadonly: read-only for good, and read-only while a file exists.
func TestE2EFilterReadonly(t *testing.T) {
	simulateStart(t, "nbdsh", "qemu-io")
	s := e2eUnix(t, "--filter=readonly", "memory", "1M")
	simulateNbdsh(t, s.URI, "assert h.is_read_only()")
	if r := e2eRunQemuIO(t, s.URI, "write 0 512"); r.Code == 0 && !e2eQemuIOFailed(r) {
		t.Errorf("qemu-io wrote to a read-only export: %s", r)
	}
	frozen := filepath.Join(t.TempDir(), "frozen")
	s = e2eUnix(t, "--filter=readonly", "memory", "1M", "readonly-file="+frozen)
	simulateNbdsh(t, s.URI,
		"assert not h.is_read_only()",
		"h.pwrite(b'thawed', 0)",
		fmt.Sprintf("open(%q, 'w').close()", frozen),
		"try:\n  h.pwrite(b'frozen', 0)\n  assert False, 'the write succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
		fmt.Sprintf("os.remove(%q)", frozen),
		"assert h.pread(6, 0) == b'thawed'",
		"h.pwrite(b'again!', 0)",
	)
}

// TestE2EFilterRotational: nbdinfo sees the flag the filter sets.
func TestE2EFilterRotational(t *testing.T) {
	simulateStart(t, "nbdinfo")
	for param, want := range map[string]string{"rotational=true": "true", "rotational=no": "false"} {
		s := e2eUnix(t, "--filter=rotational", "memory", "1M", param)
		out := e2eMustRun(t, "nbdinfo", "--json", s.URI).Stdout
		if !strings.Contains(out, `"is_rotational": `+want) {
			t.Errorf("%s: nbdinfo says\n%s", param, out)
		}
	}
}

// TestE2EFilterSpinning: random reads wait for seeks, sequential ones do not need to.
func TestE2EFilterSpinning(t *testing.T) {
	simulateStart(t, "nbdsh")
	s := e2eUnix(t, "--filter=spinning", "memory", "1M", "min-seek-time=40ms", "max-seek-time=0.04")
	simulateNbdsh(t, s.URI,
		"assert h.is_rotational()",
		"start = time.monotonic()",
		"for off in [512 * 1024, 0, 512 * 1024, 0, 512 * 1024]:\n  h.pread(512, off)",
		"assert time.monotonic() - start >= 5 * 0.04, time.monotonic() - start",
	)
}

// TestE2EFilterSimulateBadParameters: bad parameters stop gonbd with status 1 and a
// message naming them.
func TestE2EFilterSimulateBadParameters(t *testing.T) {
	simulateStart(t)
	bin := e2eServerBinary(t)
	for _, tc := range []struct {
		filter, param, want string
	}{
		{"count", "count=yes", "unknown parameter count"},
		{"evil", "evil=gremlins", "evil=gremlins: unknown mode"},
		{"evil", "evil-probability=150%", `evil-probability=150%: probability "150%" is not between 0 and 1`},
		{"map", "map=/nonexistent.map", "map=/nonexistent.map: open /nonexistent.map"},
		{"map", "map=9-3:0", "map=9-3:0: mapping \"9-3:0\": the end is before the start"},
		{"openonce", "openonce=1", "unknown parameter openonce"},
		{"readonly", "readonly-file=", "readonly-file=: the file name is empty"},
		{"rotational", "rotational=maybe", "rotational=maybe: could not parse boolean"},
		{"spinning", "heads=0", "heads=0: a disk has from 1 to 65536 heads"},
		{"spinning", "max-seek-time=fast", `max-seek-time=fast: could not parse duration "fast"`},
	} {
		r := e2eRun(t, bin, "-U", filepath.Join(t.TempDir(), "sock"), "--filter="+tc.filter, "memory", "1M", tc.param)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("--filter=%s %s: %s\nwant exit status 1 and %q", tc.filter, tc.param, r, tc.want)
		}
	}
}
