//go:build cgo && unix

package cabi

import (
	"errors"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestPythonPlugin runs nbdkit's python plugin with a script. The interpreter can
// be started once per process, so this is the package's only test that loads it.
func TestPythonPlugin(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	path, err := Find("python")
	if errors.Is(err, ErrNotFound) {
		t.Skip("nbdkit's python plugin is not installed (nbdkit-plugin-python)")
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := l.Spec()
	if spec.MagicConfigKey != "script" || spec.Name != "python" || l.MagicConfigKey() != "" {
		t.Fatalf("python plugin spec: %+v", spec)
	}
	s := servertest.StartStack(t, spec, nil, "testdata/disk.py", "greeting=bonjour")
	uri := s.URI()

	servertest.QemuIO(t, uri, "write -P 0x5a 64k 64k", "read -P 0x5a 64k 64k", "read -P 0 0 64k")
	servertest.Nbdsh(t, uri,
		"assert h.get_size() == 1 << 20",
		"assert h.can_trim() and h.can_zero() and h.can_flush()",
		"assert h.can_fua()  # emulated by flush, as nbdkit does",
		"h.pwrite(b'abc' * 1000, 200000)",
		"assert h.pread(3000, 200000) == b'abc' * 1000",
		"h.zero(1000, 200000)",
		"assert h.pread(3000, 200000) == bytes(1000) + (b'abc' * 1000)[1000:]",
		"got = []\nh.block_status(1 << 20, 0, lambda ctx, off, es, err: got.extend(es))\n"+
			"assert got[:8] == [65536, 3, 65536, 0, 65536, 3, 65536, 0], got",
		"h.trim(65536, 65536)",
		"got = []\nh.block_status(1 << 20, 0, lambda ctx, off, es, err: got.extend(es))\n"+
			"assert got[:4] == [196608, 3, 65536, 0], got",
		"import errno\ntry:\n  h.pread(4096, 512 * 1024)\n  assert False\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
		"h.flush()",
	)
	if log := s.Log.String(); !strings.Contains(log, "injected read failure") {
		t.Errorf("the script's exception is not in the log:\n%s", log)
	}
	info := servertest.MustRun(t, "nbdinfo", "--json", uri).Stdout
	if !strings.Contains(info, `"description": "bonjour"`) {
		t.Errorf("export description:\n%s", info)
	}
}
