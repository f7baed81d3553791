//go:build cgo && unix

package cabi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestLanguagePlugins runs nbdkit's language plugins that Debian ships (python has a
// test of its own), each with a script serving a disk of one letter, and reads it back.
func TestLanguagePlugins(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	for _, tt := range []struct {
		plugin, script string
		letter         byte
	}{
		{"lua", "disk.lua", 'L'},
		{"perl", "disk.pl", 'P'},
		{"tcl", "disk.tcl", 'T'},
		// Not ruby: Debian 12's ruby plugin crashes in its first per-connection
		// callback, in nbdkit 1.32 itself as in gonbd (see docs/c-plugins.md);
		// testdata/disk.rb is kept for when it works.
	} {
		t.Run(tt.plugin, func(t *testing.T) {
			path, err := Find(tt.plugin)
			if errors.Is(err, ErrNotFound) {
				t.Skipf("nbdkit's %s plugin is not installed (nbdkit-plugin-%s)", tt.plugin, tt.plugin)
			}
			if err != nil {
				t.Fatal(err)
			}
			l, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := servertest.StartStack(t, l.Spec(), nil, "testdata/"+tt.script)
			servertest.Nbdsh(t, s.URI(),
				"assert h.get_size() == 1 << 20",
				fmt.Sprintf("assert h.pread(65536, 12345) == b'%c' * 65536", tt.letter),
				"assert h.is_read_only()",
			)
		})
	}
}
