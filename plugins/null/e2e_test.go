package null

import (
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EClients drives the plugin with qemu-io and nbdsh: writes of every kind
// succeed and change nothing, and the disk is one hole.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, "64M")

	servertest.QemuIO(t, s.URI(),
		"write -P 0xab 0 1M", "write -z 1M 1M", "write -z -u 2M 1M", "discard 3M 1M", "flush",
		"read -P 0 0 4M", "read -P 0 67108352 512")
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 64 << 20",
		"assert h.can_multi_conn() and h.can_fast_zero() and h.can_fua() and h.can_cache()",
		"h.pwrite(b'x' * 4096, 8192, nbd.CMD_FLAG_FUA)",
		"h.zero(1 << 20, 0, nbd.CMD_FLAG_FAST_ZERO)",
		"h.cache(1 << 20, 0)",
		"assert h.pread(4096, 8192) == bytes(4096)",
		"e = []",
		"h.block_status(64 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [64 << 20, 3], e",
	)
}

// TestE2EMatchesNbdkit compares what clients see of gonbd's null plugin and nbdkit's.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	ours := servertest.StartStack(t, Spec(), nil, "3M").URI()
	theirs := servertest.SocketURI(servertest.StartNbdkit(t, "null", "3M"), "")
	servertest.SameAsNbdkit(t, ours, theirs, nil,
		"import hashlib; print(hashlib.sha256(h.pread(3 << 20, 0)).hexdigest())",
		"e = []; h.block_status(3 << 20, 0, lambda ctx, off, ents, err: e.extend(ents)); print(e)",
		// nbdkit's last extent may run past the range, as the protocol allows; gonbd
		// cuts it at the end of the range.
		"e = []; h.block_status(1000, 5000, lambda ctx, off, ents, err: e.extend(ents)); print(min(e[0], 1000), e[1])",
	)
}
