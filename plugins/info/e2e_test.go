package info

import (
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EClients reads each mode's disk with nbdsh.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "nbdinfo")

	s := servertest.StartStack(t, Spec(), nil)
	servertest.Nbdsh(t, s.ExportURI("hello"),
		"assert h.get_size() == 5 and h.pread(5, 0) == b'hello'",
		"assert h.is_read_only() and h.can_multi_conn() and h.can_cache()",
		"h.cache(5, 0)",
	)
	servertest.Nbdsh(t, s.URI(), "assert h.get_size() == 0")
	list := servertest.MustRun(t, "nbdinfo", "--list", "--json", s.URI()).Stdout
	if want := `"export-name": ""`; !strings.Contains(list, want) {
		t.Errorf("nbdinfo --list does not list the default export:\n%s", list)
	}

	b64 := servertest.StartStack(t, Spec(), nil, "base64exportname")
	servertest.Nbdsh(t, b64.ExportURI("aGVsbG8gd29ybGQ="), "assert h.pread(h.get_size(), 0) == b'hello world'")
	r := servertest.Run(t, "nbdsh", "-u", b64.ExportURI("!!!"), "-c", "pass")
	if r.Code == 0 || !strings.Contains(r.Stderr, "!!!") {
		t.Errorf("connecting to an export name that is not base64: %s", r)
	}

	addr := servertest.StartStack(t, Spec(), nil, "address")
	servertest.Nbdsh(t, addr.URI(), "assert h.pread(h.get_size(), 0) == b'unix'", "assert not h.can_multi_conn()")

	for _, mode := range []string{"time", "uptime", "conntime"} {
		clock := servertest.StartStack(t, Spec(), nil, mode)
		servertest.Nbdsh(t, clock.URI(),
			"import struct, time",
			"assert h.get_size() == 12 and not h.can_multi_conn()",
			"def read():\n s, us = struct.unpack('>QI', h.pread(12, 0))\n assert us < 1000000\n return s + us / 1e6",
			"a = read(); time.sleep(0.05); b = read()",
			"assert 0.04 < b - a < 10, (a, b)",
			map[string]string{
				"time":     "assert abs(b - time.time()) < 10, b",
				"uptime":   "assert 0 < b < 60, b",
				"conntime": "assert 0.04 < b < 60, b",
			}[mode],
		)
	}
}

// TestE2EMatchesNbdkit compares what clients see of gonbd's info plugin and
// nbdkit's, in every mode.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	for _, tt := range []struct {
		mode, export string
		// ignore: what file(1) makes of the contents when they are times, read at
		// different instants.
		ignore []string
		stmts  []string
	}{
		{"exportname", "hello", nil, []string{"print(h.pread(h.get_size(), 0))"}},
		{"exportname", "", nil, []string{"print(h.get_size())"}},
		{"base64exportname", "aGVsbG8=", nil, []string{"print(h.pread(h.get_size(), 0))"}},
		{"address", "", nil, []string{"print(h.pread(h.get_size(), 0))"}},
		{"time", "", []string{"content"}, []string{"print(h.get_size())"}},
		{"uptime", "", []string{"content"}, []string{"print(h.get_size(), h.pread(8, 0)[:7])"}},
		{"conntime", "", []string{"content"}, []string{"print(h.get_size(), h.pread(8, 0))"}},
	} {
		t.Run(tt.mode+"/"+tt.export, func(t *testing.T) {
			ours := servertest.StartStack(t, Spec(), nil, "mode="+tt.mode).ExportURI(tt.export)
			theirs := servertest.SocketURI(servertest.StartNbdkit(t, "info", "mode="+tt.mode), tt.export)
			servertest.SameAsNbdkit(t, ours, theirs, tt.ignore, tt.stmts...)
		})
	}
}
