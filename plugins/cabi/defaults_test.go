//go:build cgo && unix

package cabi

import (
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestDefaultsOfAMinimalPlugin checks nbdkit's answers for the callbacks a plugin
// leaves out, and that the thread_model callback narrows the built-in model.
func TestDefaultsOfAMinimalPlugin(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	l := load(t, "minimal", Options{})
	s := servertest.StartStack(t, l.Spec(), nil)
	if got := l.ThreadModel(); got != server.SerializeRequests {
		t.Errorf("ThreadModel = %v, want SerializeRequests", got)
	}
	servertest.Nbdsh(t, s.URI(),
		"assert not h.is_read_only() and not h.can_flush() and not h.can_trim()",
		"assert not h.can_fua() and not h.can_multi_conn() and not h.can_cache()",
		// zero without a zero callback: emulated by writing, which fails fast.
		"assert h.can_zero() and h.can_fast_zero()",
		"h.pwrite(b'\\xff' * 8192, 0)",
		"h.zero(4096, 2048)",
		"assert h.pread(8192, 0) == b'\\xff' * 2048 + bytes(4096) + b'\\xff' * 2048",
		"import errno\ntry:\n  h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)\n  assert False\nexcept nbd.Error as e:\n  assert e.errnum == errno.ENOTSUP, e",
		// No extents callback: everything is data.
		"got = []\nh.block_status(65536, 0, lambda ctx, off, es, err: got.extend(es))\nassert got == [65536, 0], got",
	)
}

func TestPreconnectRefuses(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	l := load(t, "minimal", Options{})
	s := servertest.StartStack(t, l.Spec(), nil, "refuse=yes")
	r := servertest.Run(t, "nbdsh", "-u", s.URI(), "-c", "h.get_size()")
	if r.Code == 0 {
		t.Fatalf("the client connected although preconnect refused it: %s", r)
	}
	if !strings.Contains(s.Log.String(), "preconnect: go away") {
		t.Errorf("the plugin's message is not in the log:\n%s", s.Log.String())
	}
}
