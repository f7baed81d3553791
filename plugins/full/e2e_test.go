package full

import (
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EClients drives the plugin with qemu-io and nbdsh: reads return zeroes and
// every kind of write fails with ENOSPC, or ENOTSUP for a fast zero.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, "16M")
	servertest.QemuIO(t, s.URI(), "read -P 0 0 16M")
	r := servertest.RunQemuIO(t, s.URI(), "write -P 0xab 0 64k")
	if !strings.Contains(r.Stdout+r.Stderr, "No space left on device") {
		t.Errorf("qemu-io's write did not fail with ENOSPC: %s", r)
	}
	servertest.Nbdsh(t, s.URI(),
		"def err(f):\n try:\n  f()\n except nbd.Error as e:\n  return e.errno\n return 'no error'",
		"assert err(lambda: h.pwrite(b'x', 0)) == 'ENOSPC'",
		"assert err(lambda: h.trim(4096, 0)) == 'ENOSPC'",
		"assert err(lambda: h.zero(4096, 0)) == 'ENOSPC'",
		"assert err(lambda: h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)) == 'ENOTSUP'",
		"assert h.pread(4096, 0) == bytes(4096)",
		"e = []",
		"h.block_status(16 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [16 << 20, 3], e",
	)
}

// TestE2EMatchesNbdkit compares what clients see of gonbd's full plugin and nbdkit's,
// errors included.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	ours := servertest.StartStack(t, Spec(), nil, "1M").URI()
	theirs := servertest.SocketURI(servertest.StartNbdkit(t, "full", "1M"), "")
	tryAll := "def err(f):\n try:\n  f()\n except nbd.Error as e:\n  return e.errno\n return 'ok'\n" +
		"print([err(f) for f in [lambda: h.pwrite(b'x', 0), lambda: h.trim(512, 0), lambda: h.zero(512, 0)," +
		" lambda: h.zero(512, 0, nbd.CMD_FLAG_FAST_ZERO), lambda: h.cache(512, 0)]])"
	servertest.SameAsNbdkit(t, ours, theirs, nil,
		"import hashlib; print(hashlib.sha256(h.pread(1 << 20, 0)).hexdigest())",
		"e = []; h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents)); print(e)",
		tryAll,
	)
}
