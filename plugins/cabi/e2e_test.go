//go:build cgo && unix

package cabi

import (
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

func TestRamdiskWithRealClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "nbdinfo")
	l := load(t, "ramdisk", Options{})
	s := servertest.StartStack(t, l.Spec(), nil, "4M", "fail=3145728")
	uri := s.URI()

	servertest.QemuIO(t, uri,
		"write -P 0xab 0 64k", "read -P 0xab 0 64k",
		"write -P 0x11 1M 4k", "read -P 0x11 1M 4k", "read -P 0 1052672 4k",
		"write -z 0 64k", "read -P 0 0 64k")

	servertest.Nbdsh(t, uri,
		"assert h.get_size() == 4 << 20",
		"assert h.can_fua() and h.can_multi_conn() and h.can_trim() and h.can_zero() and h.can_cache()",
		"assert h.can_flush() and not h.is_read_only()",
		// Block status: block 0 was written then zeroed without MAY_TRIM, so data;
		// the block at 1M is data; the rest are holes the plugin reports.
		"h.pwrite(b'x' * 65536, 2 << 20)",
		"h.trim(65536, 2 << 20)",
		"got = []\nh.block_status(4 << 20, 0, lambda ctx, off, es, err: got.extend(es))\n"+
			"assert got[0:2] == [65536, 0], got\n"+
			"assert [1048576 - 65536, 3] == got[2:4], got\n"+
			"assert [65536, 0] == got[4:6], got",
		// The plugin's errno reaches the client.
		"import errno\ntry:\n  h.pread(512, 3 << 20)\n  assert False\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
		"h.flush()",
		"h.cache(4096, 0)",
	)
	if !strings.Contains(s.Log.String(), "injected failure at 3145728") {
		t.Errorf("the plugin's nbdkit_error message is not in the log:\n%s", s.Log.String())
	}

	list := servertest.MustRun(t, "nbdinfo", "--list", uri).Stdout
	for _, want := range []string{`export="first"`, `export="second"`, "the second export"} {
		if !strings.Contains(list, want) {
			t.Errorf("nbdinfo --list lacks %q:\n%s", want, list)
		}
	}
	info := servertest.MustRun(t, "nbdinfo", "--json", strings.Replace(uri, "nbd+unix:///", "nbd+unix:///second", 1)).Stdout
	if !strings.Contains(info, "export <second> tls=0") || !strings.Contains(info, `"block_size_preferred": 4096`) {
		t.Errorf("nbdinfo of export second:\n%s", info)
	}
}

func TestVersion1Plugin(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	l := load(t, "v1", Options{})
	s := servertest.StartStack(t, l.Spec(), nil)
	servertest.Nbdsh(t, s.URI(),
		"assert h.pread(502, 0) == bytes(i % 251 for i in range(502))",
		"assert h.can_zero() and h.can_flush() and not h.can_trim() and h.can_fua()",
		// zero: the plugin declines with EOPNOTSUPP, the server writes zeroes.
		"h.zero(4096, 4096)",
		"assert h.pread(4096, 4096) == bytes(4096)",
		"assert h.pread(10, 8192) == bytes(i % 251 for i in range(8192, 8202))",
		// errno_is_preserved: the plugin's errno is the client's error.
		"import errno\ntry:\n  h.pwrite(b'FAIL', 0)\n  assert False\nexcept nbd.Error as e:\n  assert e.errnum == errno.ENOSPC, e",
		"h.pwrite(b'ok', 0)",
		"assert h.pread(3, 0) == b'ok' + bytes([2])",
	)
}
