//go:build cgo && unix

package cabi

import (
	"errors"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// loadShipped loads one of the C plugins nbdkit's Debian package ships, skipping
// when it is not installed.
func loadShipped(t *testing.T, name string) *Library {
	t.Helper()
	path, err := Find(name)
	if errors.Is(err, ErrNotFound) {
		t.Skipf("nbdkit's %s plugin is not installed", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestShippedPlugins runs C plugins Debian ships with nbdkit, built by nbdkit's
// authors against nbdkit's own server, and checks what clients see against what the
// plugins are documented to serve.
func TestShippedPlugins(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	t.Run("example1", func(t *testing.T) {
		s := servertest.StartStack(t, loadShipped(t, "example1").Spec(), nil)
		// A 100 MiB disk image with an MBR: 0x55 0xaa at the end of sector 0.
		servertest.Nbdsh(t, s.URI(),
			"assert h.get_size() == 100 << 20",
			"assert h.pread(2, 510) == b'\\x55\\xaa'",
		)
	})
	t.Run("pattern", func(t *testing.T) {
		s := servertest.StartStack(t, loadShipped(t, "pattern").Spec(), nil, "1M")
		// Each 8-byte word is its own offset, big endian.
		servertest.Nbdsh(t, s.URI(),
			"b = h.pread(4096, 65536)\n"+
				"assert all(int.from_bytes(b[i:i+8], 'big') == 65536 + i for i in range(0, 4096, 8))",
		)
	})
	t.Run("memory", func(t *testing.T) {
		s := servertest.StartStack(t, loadShipped(t, "memory").Spec(), nil, "4M")
		servertest.QemuIO(t, s.URI(), "write -P 0xc3 1M 256k", "read -P 0xc3 1M 256k", "read -P 0 0 1M",
			"discard 1M 64k", "read -P 0 1M 64k")
		// The discarded 64 KiB join the hole before them.
		servertest.Nbdsh(t, s.URI(),
			"got = []\nh.block_status(4 << 20, 0, lambda ctx, off, es, err: got.extend(es))\n"+
				"assert got == [(1 << 20) + 65536, 3, 192 << 10, 0, (4 << 20) - (1 << 20) - (256 << 10), 3], got",
			"assert h.can_multi_conn() and h.can_fua() and h.can_fast_zero()",
		)
	})
}
