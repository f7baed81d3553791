package main

// End-to-end tests of the synthetic plugins (null, ones, full, zero, pattern, random,
// sparse-random, info) through the gonbd binary. Under GONBD_E2E_SERVER=nbdkit they
// pass against nbdkit too, except for the ones plugin, which nbdkit 1.32 lacks, and
// the wording of errors.

import (
	"regexp"
	"strings"
	"testing"
)

// e2eNbdshURI runs nbdsh connected to uri with Python statements and fails the test
// unless it exits 0.
func e2eNbdshURI(t *testing.T, uri string, stmts ...string) e2eResult {
	t.Helper()
	args := []string{"-u", uri}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	return e2eMustRun(t, "nbdsh", args...)
}

func TestE2EPluginSynthetic(t *testing.T) {
	e2eStart(t, "qemu-io", "nbdsh", "nbdinfo", "nbdcopy")

	t.Run("null", func(t *testing.T) {
		s := e2eUnix(t, "null", "64M")
		e2eQemuIO(t, s.URI, "write -P 0xab 0 1M", "write -z 1M 1M", "flush", "read -P 0 0 64M")
	})

	t.Run("ones", func(t *testing.T) {
		if e2eNbdkit() {
			t.Skip("nbdkit 1.32 has no ones plugin")
		}
		e2eQemuIO(t, e2eUnix(t, "ones", "8M").URI, "write -P 0 0 1M", "read -P 0xff 0 8M")
		e2eQemuIO(t, e2eUnix(t, "ones", "1M", "byte=0x41").URI, "read -P 0x41 0 1M")
	})

	t.Run("full", func(t *testing.T) {
		s := e2eUnix(t, "full", "size=8M")
		e2eQemuIO(t, s.URI, "read -P 0 0 8M")
		if r := e2eRunQemuIO(t, s.URI, "write -P 0xab 0 64k"); !strings.Contains(r.Stdout+r.Stderr, "No space left on device") {
			t.Errorf("a write to the full disk: %s", r)
		}
	})

	t.Run("zero", func(t *testing.T) {
		s := e2eUnix(t, "zero")
		if r := e2eMustRun(t, "nbdinfo", "--size", s.URI); strings.TrimSpace(r.Stdout) != "0" {
			t.Errorf("nbdinfo --size: %s", r)
		}
	})

	t.Run("pattern", func(t *testing.T) {
		s := e2eUnix(t, "pattern", "1G")
		e2eNbdshURI(t, s.URI,
			"assert h.is_read_only() and h.get_size() == 1 << 30",
			"assert h.pread(16, 0x28) == bytes.fromhex('0000000000000028 0000000000000030')",
			"assert h.pread(5, 0x3ffffffb) == bytes.fromhex('003fffff f8')")
	})

	t.Run("random", func(t *testing.T) {
		s := e2eUnix(t, "random", "16M", "seed=1")
		e2eMustRun(t, "nbdcopy", s.URI, s.URI) // every write is checked
		e2eNbdshURI(t, s.URI,
			"import nbd",
			"try:\n h.pwrite(bytes(512), 0)\n assert False, 'a write of zeroes succeeded'\nexcept nbd.Error as e:\n assert e.errno == 'EIO', e")
	})

	t.Run("sparse-random", func(t *testing.T) {
		s := e2eUnix(t, "sparse-random", "1G", "seed=1", "runlength=1048576")
		e2eMustRun(t, "nbdcopy", s.URI, s.URI)
		m := e2eMustRun(t, "nbdinfo", "--map", s.URI).Stdout
		if !strings.Contains(m, "hole,zero") || !strings.Contains(m, "data") {
			t.Errorf("nbdinfo --map shows no holes or no data:\n%s", m)
		}
	})

	t.Run("info", func(t *testing.T) {
		names := e2eUnix(t, "info")
		hello := "nbd+unix:///hello?socket=" + names.Socket
		e2eNbdshURI(t, hello, "assert h.pread(h.get_size(), 0) == b'hello'")

		tcp := e2eTCP(t, "info", "mode=address")
		r := e2eNbdshURI(t, tcp.URI, "import sys; sys.stdout.buffer.write(h.pread(h.get_size(), 0))")
		if !regexp.MustCompile(`^127\.0\.0\.1:[0-9]+$`).MatchString(r.Stdout) {
			t.Errorf("mode=address over TCP reads %q", r.Stdout)
		}

		clock := e2eUnix(t, "info", "uptime")
		e2eNbdshURI(t, clock.URI,
			"import struct",
			"s, us = struct.unpack('>QI', h.pread(12, 0))",
			"assert s < 60 and us < 1000000 and (s, us) != (0, 0), (s, us)")
	})
}

func TestE2EPluginSyntheticBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	sock := t.TempDir() + "/sock"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"null", "size=banana"}, `size=banana: could not parse size "banana"`},
		{[]string{"full"}, "missing required parameter size"},
		{[]string{"ones", "1M", "byte=300"}, `byte=300: number "300" out of range (a byte is 0 to 255)`},
		{[]string{"zero", "size=1M"}, "this plugin takes no parameters, but was given size=1M"},
		{[]string{"pattern", "1M", "seed=1"}, "unknown parameter seed"},
		{[]string{"random", "1M", "seed=4294967296"}, `seed=4294967296: number "4294967296" out of range`},
		{[]string{"sparse-random", "1M", "percent=200"}, "percent=200: the share of data must be between 0 and 100"},
		{[]string{"sparse-random", "1M", "runlength=0"}, "runlength=0: the mean length of a run of data must be more than 0"},
		{[]string{"info", "mode=nonsense"}, "mode=nonsense: unknown mode (the modes are exportname, base64exportname, address, time, uptime, conntime)"},
	} {
		if e2eNbdkit() && tt.args[0] == "ones" {
			continue
		}
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !e2eNbdkit() && !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
