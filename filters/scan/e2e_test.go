package scan

import (
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestEndToEnd connects with nbdsh, which reads while the scan runs: the data must be
// right, and the plugin must see cache requests covering the whole disk.
func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	const size = 32 << 20
	d := servertest.NewDisk(size)
	rec := record(d, "cache", false)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "scan-ahead=false", "scan-size=1M")
	servertest.QemuIO(t, s.URI(), "write -P 0x33 5M 1M", "read -P 0x33 5M 1M", "read -P 0 0 5M")
	servertest.Nbdsh(t, s.URI(),
		"import time",
		"assert h.pread(1 << 20, 5 << 20) == b'\\x33' * (1 << 20)",
		"time.sleep(0.2)",
	)
	waitFor(t, "the scan to cover the disk", func() bool { return covers(rec.got(), size) })
}
