package cacheextents

import (
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	d := newDisk()
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()})

	// One connection walks the disk one extent at a time, as qemu-img convert does:
	// after the first question the plugin is not asked again.
	servertest.Nbdsh(t, s.URI(),
		"from nbd import CMD_FLAG_REQ_ONE",
		"e = []",
		"off = 0",
		`while off < h.get_size():
    got = []
    h.block_status(h.get_size() - off, off, lambda ctx, o, ents, err: got.extend(ents), CMD_FLAG_REQ_ONE)
    e.append((off, got[1]))
    off += got[0]`,
		"assert e == [(0, 0), (4096, 3), (65536, 0), (73728, 3)], e",
	)
	if got := d.Counts().Extents.Load(); got != 1 {
		t.Errorf("walking the disk asked the plugin %d times, want 1", got)
	}

	// A write on another connection, then the same walk sees it.
	servertest.QemuIO(t, s.URI(), "write -P 1 512k 4k")
	servertest.Nbdsh(t, s.URI(),
		"e = []",
		"h.block_status(h.get_size(), 0, lambda ctx, o, ents, err: e.extend(ents))",
		"assert e[6:8] == [(512 << 10) - 73728, 3] and e[8:10] == [4096, 0], e",
	)
}
