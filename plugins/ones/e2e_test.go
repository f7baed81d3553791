package ones

import (
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EClients drives the plugin with qemu-io and nbdsh: the disk reads as its byte
// whatever is written, and is all data.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, "16M")
	servertest.QemuIO(t, s.URI(),
		"write -P 0 0 1M", "write -z 1M 1M", "discard 2M 1M", "flush",
		"read -P 0xff 0 4M", "read -P 0xff 16777215 1")
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 16 << 20",
		"assert h.can_multi_conn() and h.can_fast_zero() and h.can_trim()",
		"h.zero(1 << 20, 0, nbd.CMD_FLAG_FAST_ZERO)",
		"assert h.pread(5, 12345) == b'\\xff' * 5",
		"e = []",
		"h.block_status(16 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [16 << 20, 0], e",
	)

	other := servertest.StartStack(t, Spec(), nil, "size=1M", "byte=0x2a")
	servertest.QemuIO(t, other.URI(), "read -P 0x2a 0 1M")
}
