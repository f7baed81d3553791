package main

// End-to-end tests: the gonbd binary driven by the real NBD clients. Helpers and the
// environment variables they read are in e2e_helpers_test.go. Every test passes against
// nbdkit too (GONBD_E2E_SERVER=nbdkit), except the assertions about extended headers,
// which nbdkit 1.32 lacks.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
)

// qemuMapEntry is one entry of `qemu-img map --output=json`.
type qemuMapEntry struct {
	Start      int64 `json:"start"`
	Length     int64 `json:"length"`
	Depth      int   `json:"depth"`
	Present    bool  `json:"present"`
	Zero       bool  `json:"zero"`
	Data       bool  `json:"data"`
	Compressed bool  `json:"compressed"`
	Offset     int64 `json:"offset"`
}

// rawMap is the entry qemu-img map prints for a raw image over NBD.
func rawMap(start, length int64, data bool) qemuMapEntry {
	return qemuMapEntry{Start: start, Length: length, Present: true, Zero: !data, Data: data, Offset: start}
}

func qemuImgMap(t *testing.T, uri string, extra ...string) []qemuMapEntry {
	t.Helper()
	r := e2eMustRun(t, "qemu-img", append([]string{"map", "--output=json", "-f", "raw"}, append(extra, uri)...)...)
	var m []qemuMapEntry
	if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
		t.Fatalf("qemu-img map: %v\n%s", err, r.Stdout)
	}
	return m
}

func qemuImgVirtualSize(t *testing.T, uri string) int64 {
	t.Helper()
	r := e2eMustRun(t, "qemu-img", "info", "--output=json", "-f", "raw", uri)
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil {
		t.Fatalf("qemu-img info: %v\n%s", err, r.Stdout)
	}
	return info.VirtualSize
}

// TestE2EQemuImg: qemu-img info, convert in and out with equal checksums, compare, and
// map of a sparse layout.
func TestE2EQemuImg(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io")
	dir := t.TempDir()

	t.Run("info", func(t *testing.T) {
		s := e2eUnix(t, "memory", "size=64M")
		if got := qemuImgVirtualSize(t, s.URI); got != 64*e2eMiB {
			t.Errorf("virtual-size = %d, want %d", got, 64*e2eMiB)
		}
	})

	t.Run("convert-compare", func(t *testing.T) {
		s := e2eUnix(t, "memory", "16M")
		src, sum := e2eRandomFile(t, dir, 16*e2eMiB)
		e2eMustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, s.URI)
		out := filepath.Join(dir, "out.img")
		e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
		if got, n := e2eFileSHA256(t, out); got != sum || n != 16*e2eMiB {
			t.Errorf("converted out: %d bytes sha256 %s, want %d bytes %s", n, got, 16*e2eMiB, sum)
		}
		e2eMustRun(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, s.URI)
		// One changed byte, and compare tells (exit status 1: images differ).
		e2eQemuIO(t, s.URI, "write -P 0x5a 12345 1")
		r := e2eRun(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, s.URI)
		// qemu-img names the start of the block holding the first difference.
		m := regexp.MustCompile(`Content mismatch at offset (\d+)!`).FindStringSubmatch(r.Stdout)
		if r.Code != 1 || m == nil {
			t.Fatalf("compare after a change: want exit 1 and a mismatch, got %s", r)
		}
		if off, _ := strconv.Atoi(m[1]); off > 12345 || 12345-off >= 64*1024 {
			t.Errorf("compare: mismatch at %d, want the block of offset 12345", off)
		}
	})

	t.Run("map", func(t *testing.T) {
		s := e2eUnix(t, "memory", "64M")
		if got, want := qemuImgMap(t, s.URI), []qemuMapEntry{rawMap(0, 64*e2eMiB, false)}; !reflect.DeepEqual(got, want) {
			t.Errorf("map of a fresh export:\n got %+v\nwant %+v", got, want)
		}
		e2eQemuIO(t, s.URI, "write -P 0xab 1M 1M", "write -P 0xcd 10M 1M")
		want := []qemuMapEntry{
			rawMap(0, 1*e2eMiB, false),
			rawMap(1*e2eMiB, 1*e2eMiB, true),
			rawMap(2*e2eMiB, 8*e2eMiB, false),
			rawMap(10*e2eMiB, 1*e2eMiB, true),
			rawMap(11*e2eMiB, 53*e2eMiB, false),
		}
		if got := qemuImgMap(t, s.URI); !reflect.DeepEqual(got, want) {
			t.Errorf("map after writes:\n got %+v\nwant %+v", got, want)
		}
	})
}

// TestE2EQemuIO: qemu-io's commands over TCP and Unix sockets.
func TestE2EQemuIO(t *testing.T) {
	e2eStart(t, "qemu-io")
	for _, transport := range []string{"unix", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			start := e2eUnix
			if transport == "tcp" {
				start = e2eTCP
			}
			s := start(t, "memory", "64M")
			out := e2eQemuIO(t, s.URI,
				"write -P 0xab 0 1M",
				"read -P 0xab 0 1M",
				"write -P 0xab 1M 1M",
				"write -z 1M 1M",
				"read -P 0 1M 1M",
				"write -P 0xcd 2M 1M",
				"read -P 0xcd 2M 1M",
				"discard 2M 1M",
				"read -P 0 2M 1M",
				"write -P 0xee 3M 512",
				"read -P 0xee 3M 512",
				"read -P 0 3146240 1048064",
				"aio_write -P 0x11 4M 64k",
				"aio_write -P 0x22 5M 64k",
				"aio_write -P 0x33 6M 1M",
				"aio_flush",
				"read -P 0x11 4M 64k",
				"read -P 0x22 5M 64k",
				"read -P 0x33 6M 1M",
				"flush",
			)
			for _, want := range []string{
				"wrote 1048576/1048576 bytes at offset 0",
				"read 1048576/1048576 bytes at offset 0",
				"wrote 1048576/1048576 bytes at offset 1048576", // write -z
				"discard 1048576/1048576 bytes at offset 2097152",
				"read 1048576/1048576 bytes at offset 2097152",
				"wrote 65536/65536 bytes at offset 4194304",
				"wrote 1048576/1048576 bytes at offset 6291456",
				"read 65536/65536 bytes at offset 5242880",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("qemu-io output lacks %q:\n%s", want, out)
				}
			}
			// A new connection sees the data, and a wrong pattern is noticed (so the
			// checks above can fail).
			e2eQemuIO(t, s.URI, "read -P 0xab 0 1M", "read -P 0 1M 2M", "read -P 0x33 6M 1M")
			if r := e2eRunQemuIO(t, s.URI, "read -P 0xcd 0 1M"); !strings.Contains(r.Stdout+r.Stderr, "Pattern verification failed") {
				t.Errorf("read -P with the wrong pattern did not fail: %s", r)
			}
		})
	}
}

// TestE2ENbdsh runs testdata/e2e/nbdsh_ops.py: every command and flag through libnbd,
// the capabilities the memory plugin advertises, block status with and without REQ_ONE,
// 64 requests in flight, two connections, and the server's errors.
func TestE2ENbdsh(t *testing.T) {
	e2eStart(t, "nbdsh")
	script, err := filepath.Abs("testdata/e2e/nbdsh_ops.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		start func(testing.TB, ...string) *e2eServer
		args  []string
	}{
		{"unix", e2eUnix, []string{"memory", "64M"}},
		{"tcp", e2eTCP, []string{"memory", "64M"}},
		{"one-thread", e2eUnix, []string{"-t", "1", "memory", "64M"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.start(t, c.args...)
			r := e2eNbdsh(t, []string{"GONBD_URI=" + s.URI}, fmt.Sprintf("exec(open(%q).read())", script))
			if !strings.HasSuffix(r.Stdout, "OK\n") {
				t.Errorf("nbdsh script did not finish: %s", r)
			}
		})
	}
}

// TestE2ENbdshReadOnly: with -r the export is read-only, says so, and refuses writes
// with EPERM even when the client sends them.
func TestE2ENbdshReadOnly(t *testing.T) {
	e2eStart(t, "nbdsh")
	s := e2eUnix(t, "-r", "memory", "64M")
	r := e2eNbdsh(t, []string{"GONBD_URI=" + s.URI}, `
import errno, os
h = nbd.NBD()
h.connect_uri(os.environ["GONBD_URI"])
assert h.is_read_only()
assert not h.can_trim() and not h.can_zero() and not h.can_fua()
assert h.pread(4096, 0) == bytes(4096)
h.set_strict_mode(0)
def errnum(fn):
    try:
        fn()
    except nbd.Error as e:
        return e.errnum
    raise AssertionError("a write succeeded on a read-only export")
for name, fn in [("pwrite", lambda: h.pwrite(b"x" * 4096, 0)),
                 ("pwrite past the end", lambda: h.pwrite(b"x" * 4096, 64 << 20)),
                 ("trim", lambda: h.trim(4096, 0)),
                 ("zero", lambda: h.zero(4096, 0))]:
    assert errnum(fn) == errno.EPERM, name
# With a flag the server did not advertise, EINVAL is as right as EPERM (nbdkit
# answers EPERM).
for name, fn in [("pwrite FUA", lambda: h.pwrite(b"x" * 4096, 8192, nbd.CMD_FLAG_FUA)),
                 ("zero FAST_ZERO", lambda: h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO))]:
    assert errnum(fn) in (errno.EPERM, errno.EINVAL), name
h.flush()
assert h.pread(4096, 0) == bytes(4096)
print("OK")
`)
	if !strings.HasSuffix(r.Stdout, "OK\n") {
		t.Errorf("nbdsh: %s", r)
	}
}

// nbdinfoJSON is the part of `nbdinfo --json` the tests read.
type nbdinfoJSON struct {
	Protocol   string `json:"protocol"`
	Structured bool   `json:"structured"`
	Exports    []struct {
		Name        string   `json:"export-name"`
		Contexts    []string `json:"contexts"`
		ReadOnly    bool     `json:"is_read_only"`
		CanFUA      bool     `json:"can_fua"`
		CanFlush    bool     `json:"can_flush"`
		CanTrim     bool     `json:"can_trim"`
		CanZero     bool     `json:"can_zero"`
		CanFastZero bool     `json:"can_fast_zero"`
		CanMulti    bool     `json:"can_multi_conn"`
		CanCache    bool     `json:"can_cache"`
		Size        int64    `json:"export-size"`
		BlockMin    *int64   `json:"block_size_minimum"`
		BlockPref   *int64   `json:"block_size_preferred"`
		BlockMax    *int64   `json:"block_size_maximum"`
	} `json:"exports"`
}

func nbdinfo(t *testing.T, args ...string) nbdinfoJSON {
	t.Helper()
	r := e2eMustRun(t, "nbdinfo", append([]string{"--json"}, args...)...)
	var info nbdinfoJSON
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil {
		t.Fatalf("nbdinfo --json: %v\n%s", err, r.Stdout)
	}
	return info
}

// TestE2ENbdinfo: --json, --list, --map, --size and --can/--is.
func TestE2ENbdinfo(t *testing.T) {
	e2eStart(t, "nbdinfo", "qemu-io")
	rw := e2eUnix(t, "memory", "64M")
	ro := e2eTCP(t, "-r", "memory", "32M")

	t.Run("json", func(t *testing.T) {
		info := nbdinfo(t, rw.URI)
		if info.Protocol != "newstyle-fixed" || !info.Structured || len(info.Exports) != 1 {
			t.Fatalf("nbdinfo --json: %+v", info)
		}
		e := info.Exports[0]
		if e.Size != 64*e2eMiB || e.ReadOnly || e.Name != "" {
			t.Errorf("export: size %d read-only %v name %q, want %d false \"\"", e.Size, e.ReadOnly, e.Name, 64*e2eMiB)
		}
		if !(e.CanFUA && e.CanFlush && e.CanTrim && e.CanZero && e.CanFastZero && e.CanMulti && e.CanCache) {
			t.Errorf("memory plugin capabilities not all advertised: %+v", e)
		}
		if !contains(e.Contexts, "base:allocation") {
			t.Errorf("contexts %q lack base:allocation", e.Contexts)
		}
		// Block sizes are optional; when sent they must make sense.
		if e.BlockMin != nil || e.BlockPref != nil || e.BlockMax != nil {
			if e.BlockMin == nil || e.BlockPref == nil || e.BlockMax == nil {
				t.Fatalf("only some block sizes sent: %v %v %v", e.BlockMin, e.BlockPref, e.BlockMax)
			}
			lo, pref, hi := *e.BlockMin, *e.BlockPref, *e.BlockMax
			if !(pow2(lo) && pow2(pref) && lo <= pref && lo <= 64*1024 && pref >= 512 && pref <= 32*e2eMiB && hi >= pref && (hi%lo == 0 || hi == 0xffffffff)) {
				t.Errorf("block sizes minimum %d preferred %d maximum %d break the spec's rules", lo, pref, hi)
			}
		}

		info = nbdinfo(t, ro.URI)
		if len(info.Exports) != 1 || !info.Exports[0].ReadOnly || info.Exports[0].Size != 32*e2eMiB {
			t.Errorf("-r export: %+v", info.Exports)
		}
	})

	t.Run("size", func(t *testing.T) {
		if r := e2eMustRun(t, "nbdinfo", "--size", rw.URI); r.Stdout != "67108864\n" {
			t.Errorf("--size printed %q", r.Stdout)
		}
		if r := e2eMustRun(t, "nbdinfo", "--size", ro.URI); r.Stdout != "33554432\n" {
			t.Errorf("--size printed %q", r.Stdout)
		}
	})

	t.Run("can", func(t *testing.T) {
		// nbdinfo(1): exit 0 if true, 2 if false.
		for _, c := range []struct {
			uri  string
			args []string
			want int
		}{
			{rw.URI, []string{"--can", "write"}, 0},
			{rw.URI, []string{"--is", "read-only"}, 2},
			{rw.URI, []string{"--can", "trim"}, 0},
			{rw.URI, []string{"--can", "fast-zero"}, 0},
			{rw.URI, []string{"--can", "multi-conn"}, 0},
			{ro.URI, []string{"--can", "write"}, 2},
			{ro.URI, []string{"--is", "read-only"}, 0},
			{ro.URI, []string{"--can", "trim"}, 2},
			{ro.URI, []string{"--can", "read"}, 0},
			{ro.URI, []string{"--can", "connect"}, 0},
		} {
			if r := e2eRun(t, "nbdinfo", append(c.args, c.uri)...); r.Code != c.want {
				t.Errorf("nbdinfo %s %s: %s, want exit status %d", strings.Join(c.args, " "), c.uri, r, c.want)
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		// nbdkit's -e sets only the export name of --run's $uri and $exportname; the
		// server still lists its plugin's default export, "".
		for _, s := range []*e2eServer{rw, e2eUnix(t, "-e", "foo", "memory", "1M")} {
			r := e2eMustRun(t, "nbdinfo", "--list", s.URI)
			if !strings.Contains(r.Stdout, "export=\"\":\n") || strings.Count(r.Stdout, "export=") != 1 {
				t.Errorf("nbdinfo --list %s: want the one export \"\":\n%s", s.URI, r.Stdout)
			}
			info := nbdinfo(t, "--list", s.URI)
			if len(info.Exports) != 1 || info.Exports[0].Name != "" {
				t.Errorf("nbdinfo --list --json: %+v", info.Exports)
			}
		}
	})

	t.Run("map", func(t *testing.T) {
		s := e2eUnix(t, "memory", "64M")
		e2eQemuIO(t, s.URI, "write -P 0xab 1M 1M", "write -P 0xcd 10M 2M")
		r := e2eMustRun(t, "nbdinfo", "--map", s.URI)
		want := []string{
			"0 1048576 3 hole,zero",
			"1048576 1048576 0 data",
			"2097152 8388608 3 hole,zero",
			"10485760 2097152 0 data",
			"12582912 54525952 3 hole,zero",
		}
		if got := normalizeLines(r.Stdout); !reflect.DeepEqual(got, want) {
			t.Errorf("nbdinfo --map:\n got %q\nwant %q", got, want)
		}
		r = e2eMustRun(t, "nbdinfo", "--map", "--totals", s.URI)
		want = []string{"3145728 4.7% 0 data", "63963136 95.3% 3 hole,zero"}
		if got := normalizeLines(r.Stdout); !reflect.DeepEqual(got, want) {
			t.Errorf("nbdinfo --map --totals:\n got %q\nwant %q", got, want)
		}
	})
}

// normalizeLines splits output into lines with their fields separated by one space.
func normalizeLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func pow2(n int64) bool { return n > 0 && n&(n-1) == 0 }

// TestE2ENbdcopy: nbdcopy in and out with equal checksums, with --flush, and from one
// server to another.
func TestE2ENbdcopy(t *testing.T) {
	e2eStart(t, "nbdcopy")
	dir := t.TempDir()
	src, sum := e2eRandomFile(t, dir, 32*e2eMiB)
	a := e2eUnix(t, "memory", "32M")
	b := e2eTCP(t, "memory", "32M")

	check := func(what, uri string) {
		t.Helper()
		out := filepath.Join(dir, what+".img")
		e2eMustRun(t, "nbdcopy", uri, out)
		if got, n := e2eFileSHA256(t, out); got != sum || n != 32*e2eMiB {
			t.Errorf("%s: copied out %d bytes sha256 %s, want %d bytes %s", what, n, got, 32*e2eMiB, sum)
		}
	}
	e2eMustRun(t, "nbdcopy", src, a.URI)
	check("a", a.URI)
	// Server to server, then the second server's copy out.
	e2eMustRun(t, "nbdcopy", "--flush", a.URI, b.URI)
	check("b", b.URI)
	// Overwrite b with zeros, then copy in again with --flush and several connections.
	zeros := filepath.Join(dir, "zeros.img")
	if err := os.WriteFile(zeros, make([]byte, 32*e2eMiB), 0o644); err != nil {
		t.Fatal(err)
	}
	e2eMustRun(t, "nbdcopy", zeros, b.URI)
	if r := e2eMustRun(t, "nbdinfo", "--map", "--totals", b.URI); strings.Contains(r.Stdout, " data") && !strings.Contains(r.Stdout, "zero") {
		t.Errorf("export still all data after copying zeros in:\n%s", r.Stdout)
	}
	e2eMustRun(t, "nbdcopy", "--flush", "--connections=4", "--requests=32", src, b.URI)
	check("b2", b.URI)
}

// TestE2ECaptive: --run and its variables, its exit status, -s on stdin/stdout and
// systemd socket activation by libnbd's [ CMD ] syntax.
func TestE2ECaptive(t *testing.T) {
	e2eStart(t, "nbdinfo")
	bin := e2eServerBinary(t)

	t.Run("size", func(t *testing.T) {
		r := e2eRun(t, bin, "-U", "-", "memory", "1M", "--run", `nbdinfo --size "$uri"`)
		if r.Code != 0 || r.Stdout != "1048576\n" {
			t.Errorf("want 1048576 and exit 0, got %s", r)
		}
	})
	t.Run("exit-status", func(t *testing.T) {
		for _, code := range []int{0, 1, 3, 42} {
			if r := e2eRun(t, bin, "-U", "-", "memory", "1M", "--run", fmt.Sprintf("exit %d", code)); r.Code != code {
				t.Errorf("--run 'exit %d': %s", code, r)
			}
		}
	})
	t.Run("default-signals", func(t *testing.T) {
		// The command must not inherit ignored signals from the server (nbdkit's
		// system(3) resets them in the child): a ^C must stop it, and a script in a
		// pipeline must die of SIGPIPE.
		if runtime.GOOS != "linux" {
			t.Skip("reads /proc/self/status")
		}
		r := e2eRun(t, bin, "-U", "-", "memory", "1M", "--run", "grep SigIgn /proc/self/status")
		mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(r.Stdout, "SigIgn:")), 16, 64)
		if r.Code != 0 || err != nil {
			t.Fatalf("the --run command's ignored signals: %v: %s", err, r)
		}
		// Bit N-1 is signal N. Other bits may come from whoever started the test.
		for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE} {
			if mask&(1<<(sig-1)) != 0 {
				t.Errorf("the --run command starts with %v ignored (SigIgn %x)", sig, mask)
			}
		}
	})
	t.Run("unix-variables", func(t *testing.T) {
		r := e2eRun(t, bin, "-U", "-", "-e", "foo", "memory", "1M", "--run",
			`printf '%s\n' "$uri" "$nbd" "$exportname" "$unixsocket" "$port"; nbdinfo --size "$uri"`)
		lines := strings.Split(r.Stdout, "\n")
		if r.Code != 0 || len(lines) != 7 {
			t.Fatalf("got %s", r)
		}
		uri, nbd, export, sock, port, size := lines[0], lines[1], lines[2], lines[3], lines[4], lines[5]
		if export != "foo" || port != "" || size != "1048576" || !filepath.IsAbs(sock) {
			t.Errorf("$exportname=%q $port=%q $unixsocket=%q size=%q", export, port, sock, size)
		}
		if want := "nbd+unix:///foo?socket=" + sock; uri != want || nbd != uri {
			t.Errorf("$uri=%q $nbd=%q, want %q for both", uri, nbd, want)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Errorf("the private socket %s outlives the server", sock)
		}
	})
	t.Run("tcp-variables", func(t *testing.T) {
		p := e2eFreePort(t)
		r := e2eRun(t, bin, "-p", strconv.Itoa(p), "-i", "127.0.0.1", "memory", "1M", "--run",
			`printf '%s\n' "$uri" "$nbd" "$port" "$unixsocket"; nbdinfo --size "$uri"`)
		lines := strings.Split(r.Stdout, "\n")
		if r.Code != 0 || len(lines) != 6 {
			t.Fatalf("got %s", r)
		}
		uri, nbd, port, sock, size := lines[0], lines[1], lines[2], lines[3], lines[4]
		if port != strconv.Itoa(p) || sock != "" || size != "1048576" {
			t.Errorf("$port=%q (want %d) $unixsocket=%q size=%q", port, p, sock, size)
		}
		if !strings.HasPrefix(uri, "nbd://") || !strings.HasSuffix(uri, ":"+port) || nbd != uri {
			t.Errorf("$uri=%q $nbd=%q", uri, nbd)
		}
	})
	t.Run("stdin-stdout", func(t *testing.T) {
		e2eNeedClient(t, "nbdsh")
		r := e2eNbdsh(t, []string{"GONBD_BIN=" + bin}, `
import os
h = nbd.NBD()
h.connect_command([os.environ["GONBD_BIN"], "-s", "memory", "1M"])
print(h.get_size())
h.pwrite(b"abc" * 1000, 4096)
assert h.pread(3000, 4096) == b"abc" * 1000
h.shutdown()
`)
		if r.Stdout != "1048576\n" {
			t.Errorf("nbdsh over -s: %s", r)
		}
	})
	t.Run("socket-activation", func(t *testing.T) {
		// libnbd's [ CMD ] runs the server with systemd socket activation.
		r := e2eRun(t, "nbdinfo", "--size", "--", "[", bin, "memory", "1M", "]")
		if r.Code != 0 || r.Stdout != "1048576\n" {
			t.Errorf("nbdinfo --size [ server memory 1M ]: %s", r)
		}
	})
}

// TestE2EExtendedHeaders: qemu 10 negotiates extended headers with gonbd, and requests
// and block status above 4 GiB work on a sparse 1 TiB export.
func TestE2EExtendedHeaders(t *testing.T) {
	e2eStart(t, "qemu-io", "qemu-img")
	s := e2eUnix(t, "-v", "memory", "1T")
	const (
		GiB = 1 << 30
		TiB = 1 << 40
	)
	// qemu-io takes zero requests over 2 GiB only with -n (NBD_CMD_FLAG_FAST_ZERO) and
	// discards up to 2 GiB-512; with extended headers qemu sends each zero request whole.
	out := e2eQemuIO(t, s.URI, "write -z -n 0 5G", "write -z -u -n 0 5G", "discard 4095M 1026M", "write -P 0x5a 5G 64k", "read -P 0x5a 5G 64k",
		"read -P 0 4G 1M", "write -P 0x6b 4294934528 65536", "read -P 0x6b 4294934528 65536")
	for _, want := range []string{
		"wrote 5368709120/5368709120 bytes at offset 0",
		"discard 1075838976/1075838976 bytes at offset 4293918720",
		"read 65536/65536 bytes at offset 5368709120",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("qemu-io output lacks %q:\n%s", want, out)
		}
	}
	if !e2eNbdkit() {
		// The engine logs each connection's transmission phase at debug level; so far
		// only qemu-io has connected.
		lines := regexp.MustCompile(`(?m)^.*\btransmission\b.*$`).FindAllString(s.Stderr.String(), -1)
		if len(lines) == 0 {
			t.Errorf("no transmission phase in the -v log:\n%s", s.Stderr)
		}
		for _, l := range lines {
			if !regexp.MustCompile(`\bextended=true\b`).MatchString(l) {
				t.Errorf("qemu-io's connection without extended headers: %s", l)
			}
		}
	}
	e2eQemuIO(t, s.URI, "discard 5G 64k", "read -P 0 5G 64k", "read -P 0x6b 4294934528 65536")

	// The whole export: data only where 0x6b was written across the 4 GiB boundary
	// (64 KiB, aligned to the 32 KiB pages of nbdkit's and gonbd's memory plugins).
	want := []qemuMapEntry{rawMap(0, 4*GiB-32768, false), rawMap(4*GiB-32768, 65536, true), rawMap(4*GiB+32768, TiB-4*GiB-32768, false)}
	if got := qemuImgMap(t, s.URI); !reflect.DeepEqual(got, want) {
		t.Errorf("map:\n got %+v\nwant %+v", got, want)
	}
	// Above 4 GiB: one zero extent of 6 GiB from 5 GiB.
	if got, want := qemuImgMap(t, s.URI, "--start-offset=5G", "--max-length=6G"), []qemuMapEntry{rawMap(5*GiB, 6*GiB, false)}; !reflect.DeepEqual(got, want) {
		t.Errorf("map above 4 GiB:\n got %+v\nwant %+v", got, want)
	}

	// The pure-Go client: extended headers, block status longer than 4 GiB.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialURI(ctx, s.URI, nil)
	if err != nil {
		t.Fatalf("client.DialURI: %v", err)
	}
	defer c.Close()
	length := uint64(5 * GiB)
	if !c.ExtendedHeaders() {
		if !e2eNbdkit() {
			t.Errorf("the Go client did not negotiate extended headers")
		}
		length = 4*GiB - 512 // nbdkit 1.32 has no extended headers
	}
	if c.Size() != TiB {
		t.Errorf("size %d", c.Size())
	}
	for _, off := range []uint64{0, 5 * GiB, TiB - 6*GiB} {
		var sum, last uint64
		var n int
		err := c.BlockStatus(ctx, off, length, 0, func(ctxName string, ds []protocol.BlockDescriptor) error {
			if ctxName != "base:allocation" {
				return fmt.Errorf("context %q", ctxName)
			}
			for _, d := range ds {
				sum += d.Length
				last = d.Length
				n++
			}
			return nil
		})
		if err != nil {
			t.Errorf("BlockStatus(%d, %d): %v", off, length, err)
			continue
		}
		// The spec lets the last descriptor reach past the request (nbdkit's do);
		// gonbd's stop at its end.
		if n < 1 || sum == 0 || sum-last >= length || !e2eNbdkit() && sum > length {
			t.Errorf("BlockStatus(%d, %d): %d descriptors summing to %d", off, length, n, sum)
		}
	}
	// REQ_ONE above 4 GiB: the hole from 4 GiB+512 reaches past 5 GiB.
	err = c.BlockStatus(ctx, 5*GiB, length, protocol.CmdFlagReqOne, func(_ string, ds []protocol.BlockDescriptor) error {
		if len(ds) != 1 || ds[0].Flags != uint64(protocol.StateHole|protocol.StateZero) || ds[0].Length == 0 || ds[0].Length > length {
			return fmt.Errorf("REQ_ONE descriptors %+v", ds)
		}
		return nil
	})
	if err != nil {
		t.Errorf("BlockStatus REQ_ONE: %v", err)
	}
	buf := make([]byte, 1024)
	if err := c.ReadAt(ctx, buf, 4*GiB-512, 0); err != nil || buf[0] != 0x6b || buf[1023] != 0x6b {
		t.Errorf("ReadAt across 4 GiB: %v %x", err, buf[:4])
	}
	if !c.ExtendedHeaders() {
		return
	}
	// Requests of 5 GiB, whole on the wire: zero, cache and trim over the data at 4 GiB.
	if err := c.Zero(ctx, 2*GiB, 5*GiB, protocol.CmdFlagFastZero); err != nil {
		t.Errorf("Zero of 5 GiB: %v", err)
	}
	if err := c.ReadAt(ctx, buf, 4*GiB-512, 0); err != nil || !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Errorf("ReadAt after a 5 GiB zero: %v %x", err, buf[:4])
	}
	if err := c.Cache(ctx, 3*GiB, 5*GiB, 0); err != nil {
		t.Errorf("Cache of 5 GiB: %v", err)
	}
	if err := c.WriteAt(ctx, bytes.Repeat([]byte{0x7c}, 1024), 4*GiB-512, protocol.CmdFlagFUA); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	if err := c.Trim(ctx, 1*GiB, 5*GiB, 0); err != nil {
		t.Errorf("Trim of 5 GiB: %v", err)
	}
	err = c.BlockStatus(ctx, 0, 2*TiB/4, 0, func(_ string, ds []protocol.BlockDescriptor) error {
		if ds[0].Flags != uint64(protocol.StateHole|protocol.StateZero) || ds[0].Length < 6*GiB {
			return fmt.Errorf("after a 5 GiB trim from 1 GiB: descriptors %+v", ds)
		}
		return nil
	})
	if err != nil {
		t.Errorf("BlockStatus of 512 GiB: %v", err)
	}
}

// TestE2EHugeSize: an export of 2^60-1 bytes (sparse).
func TestE2EHugeSize(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "nbdinfo")
	const size = 1<<60 - 1
	s := e2eUnix(t, "memory", strconv.Itoa(size))
	if r := e2eMustRun(t, "nbdinfo", "--size", s.URI); r.Stdout != strconv.Itoa(size)+"\n" {
		t.Errorf("nbdinfo --size: %q", r.Stdout)
	}
	// qemu rounds the size up to a whole 512-byte sector.
	if got := qemuImgVirtualSize(t, s.URI); got != (size+511)/512*512 {
		t.Errorf("qemu-img info: virtual-size %d, want %d", got, (size+511)/512*512)
	}
	end := func(back int64) string { return strconv.FormatInt(size-back, 10) }
	e2eQemuIO(t, s.URI,
		"write -P 0x11 0 64k",
		"write -P 0x22 "+end(64*1024)+" 65536",
		"write -P 0x33 "+end(5)+" 5",
		"write -P 0x44 "+end(1<<40)+" 4096",
	)
	e2eQemuIO(t, s.URI,
		"read -P 0x11 0 64k",
		"read -P 0x22 "+end(64*1024)+" 65531",
		"read -P 0x33 "+end(5)+" 5",
		"read -P 0x44 "+end(1<<40)+" 4096",
		"read -P 0 "+end(1<<40+4096)+" 4096",
		"read -P 0 64k 64k",
	)
}

// TestE2EBadInput: bad parameters, a garbage handshake, a client that vanishes
// mid-request, and SIGTERM with a client connected.
func TestE2EBadInput(t *testing.T) {
	e2eStart(t, "nbdinfo")
	bin := e2eServerBinary(t)

	for _, c := range []struct {
		args  []string
		words []string
	}{
		{[]string{"memory", "size=banana"}, []string{"size", "banana"}},
		{[]string{"memory", "banana"}, []string{"size", "banana"}},
		{[]string{"memory", "1M", "foo=bar"}, []string{"foo"}},
	} {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			r := e2eRun(t, bin, append([]string{"-f", "-U", sock}, c.args...)...)
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			if r.Code != 1 || len(lines) != 1 {
				t.Fatalf("want exit 1 and one line on stderr, got %s", r)
			}
			for _, w := range c.words {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error %q does not name %q", lines[0], w)
				}
			}
		})
	}

	t.Run("garbage-handshake", func(t *testing.T) {
		s := e2eUnix(t, "memory", "1M")
		for _, garbage := range [][]byte{
			[]byte("GET / HTTP/1.0\r\n\r\n"),
			{0, 0, 0, 3, 'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			append([]byte{0, 0, 0, 3}, []byte("IHAVEOPT\x00\x00\x00\x07\xff\xff\xff\xf0")...), // NBD_OPT_GO of 4 GiB
			make([]byte, 4096),
		} {
			nc, err := net.Dial("unix", s.Socket)
			if err != nil {
				t.Fatal(err)
			}
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			nc.Write(garbage)
			// The server hangs up (or answers an error) without crashing; read until it
			// closes or the deadline passes.
			io.Copy(io.Discard, nc)
			nc.Close()
			if r := e2eMustRun(t, "nbdinfo", "--size", s.URI); r.Stdout != "1048576\n" {
				t.Errorf("after garbage %q: nbdinfo --size printed %q", garbage, r.Stdout)
			}
		}
		// A client that connects and says nothing holds up no one.
		idle, err := net.Dial("unix", s.Socket)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		if r := e2eMustRun(t, "nbdinfo", "--size", s.URI); r.Stdout != "1048576\n" {
			t.Errorf("with an idle client: nbdinfo --size printed %q", r.Stdout)
		}
	})

	t.Run("vanishing-client", func(t *testing.T) {
		e2eNeedClient(t, "qemu-io")
		s := e2eUnix(t, "memory", "1M")
		for _, half := range []int{0, 1000, 65535} {
			nc, size := rawHandshake(t, s.Socket)
			if size != e2eMiB {
				t.Errorf("handshake: size %d", size)
			}
			// NBD_CMD_WRITE of 64 KiB at 128 KiB, then only part of its payload.
			req := make([]byte, 28, 28+half)
			binary.BigEndian.PutUint32(req[0:], 0x25609513)
			binary.BigEndian.PutUint16(req[6:], 1)
			binary.BigEndian.PutUint64(req[8:], 7)
			binary.BigEndian.PutUint64(req[16:], 128*1024)
			binary.BigEndian.PutUint32(req[24:], 64*1024)
			for i := 0; i < half; i++ {
				req = append(req, 0xee)
			}
			if _, err := nc.Write(req); err != nil {
				t.Fatal(err)
			}
			nc.Close()
		}
		// The server still serves, and applied none of the partial writes.
		e2eQemuIO(t, s.URI, "read -P 0 0 1M", "write -P 0x77 128k 64k", "read -P 0x77 128k 64k")
	})

	t.Run("sigterm", func(t *testing.T) {
		if e2eNbdkit() {
			t.Skip("nbdkit 1.32 waits on SIGTERM until its clients hang up")
		}
		s := e2eUnix(t, "memory", "1M")
		// One client mid-way through a write, one idle in transmission.
		busy, _ := rawHandshake(t, s.Socket)
		defer busy.Close()
		req := make([]byte, 28, 28+100)
		binary.BigEndian.PutUint32(req[0:], 0x25609513)
		binary.BigEndian.PutUint16(req[6:], 1)
		binary.BigEndian.PutUint32(req[24:], 4096)
		if _, err := busy.Write(append(req, make([]byte, 100)...)); err != nil {
			t.Fatal(err)
		}
		raw, _ := rawHandshake(t, s.Socket)
		defer raw.Close()
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := s.exitCode(10 * time.Second); code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, s.Stderr)
		}
	})
}

// rawHandshake does a fixed-newstyle handshake by hand (NBD_OPT_EXPORT_NAME of the
// default export, no zeroes) and returns the connection in the transmission phase.
func rawHandshake(t *testing.T, sock string) (net.Conn, uint64) {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	greeting := make([]byte, 18)
	if _, err := io.ReadFull(br, greeting); err != nil {
		t.Fatal(err)
	}
	if string(greeting[:16]) != "NBDMAGICIHAVEOPT" || greeting[17]&1 == 0 {
		t.Fatalf("greeting %q", greeting)
	}
	// Client flags FIXED_NEWSTYLE|NO_ZEROES, then NBD_OPT_EXPORT_NAME "".
	msg := []byte{0, 0, 0, 3}
	msg = append(msg, "IHAVEOPT"...)
	msg = binary.BigEndian.AppendUint32(msg, 1)
	msg = binary.BigEndian.AppendUint32(msg, 0)
	if _, err := nc.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 10)
	if _, err := io.ReadFull(br, reply); err != nil {
		t.Fatalf("NBD_OPT_EXPORT_NAME reply: %v", err)
	}
	nc.SetDeadline(time.Time{})
	return nc, binary.BigEndian.Uint64(reply)
}
