package zero

import (
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EClients connects nbdsh and qemu-img: the disk is empty and read-only.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil)
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 0",
		"assert h.is_read_only() and h.can_multi_conn() and h.can_cache()",
		"assert not h.can_trim() and not h.can_zero() and not h.can_flush()",
	)
	r := servertest.MustRun(t, "qemu-img", "info", "--output=json", "-f", "raw", s.URI())
	if !strings.Contains(r.Stdout, `"virtual-size": 0,`) {
		t.Errorf("qemu-img info does not report an empty disk:\n%s", r.Stdout)
	}
}

// TestE2EMatchesNbdkit compares what nbdinfo shows of gonbd's zero plugin and
// nbdkit's.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	ours := servertest.StartStack(t, Spec(), nil).URI()
	theirs := servertest.SocketURI(servertest.StartNbdkit(t, "zero"), "")
	servertest.SameAsNbdkit(t, ours, theirs, nil, "print(h.get_size(), h.is_read_only(), h.can_fua(), h.can_df())")
}
