package main

// End-to-end tests of C plugins (plugins/cabi) through the gonbd binary: nbdkit's
// python plugin found by its short name, and a C plugin compiled by the test, each
// with filters in front.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// e2eCabiTestdata returns the absolute path of a file in plugins/cabi/testdata.
func e2eCabiTestdata(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "plugins", "cabi", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// e2eCabiCompile compiles plugins/cabi/testdata/NAME.c into a shared object.
func e2eCabiCompile(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	if _, err := os.Stat("/usr/include/nbdkit-plugin.h"); err != nil {
		t.Skip("nbdkit-plugin.h is not installed (nbdkit-plugin-dev)")
	}
	out := filepath.Join(t.TempDir(), name+".so")
	if msg, err := exec.Command("gcc", "-shared", "-fPIC", "-o", out, e2eCabiTestdata(t, name+".c")).CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", name, err, msg)
	}
	return out
}

// e2eCabiNeedCgo skips when the gonbd under test cannot load C plugins.
func e2eCabiNeedCgo(t *testing.T) {
	t.Helper()
	if e2eNbdkit() {
		return
	}
	out := e2eMustRun(t, e2eServerBinary(t), "--dump-config").Stdout
	if !strings.Contains(out, "c_plugins=yes") {
		t.Skip("this gonbd is built without cgo: c_plugins=no")
	}
}

func TestE2EPluginCabiPython(t *testing.T) {
	e2eStart(t, "qemu-io", "nbdsh")
	e2eCabiNeedCgo(t)
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-python-plugin.so"); err != nil {
		t.Skip("nbdkit's python plugin is not installed")
	}
	// The offset filter shifts the client's view by 64 KiB into the script's disk.
	s := e2eUnix(t, "--filter=offset", "python", e2eCabiTestdata(t, "disk.py"), "offset=64k", "greeting=hi")
	e2eQemuIO(t, s.URI, "write -P 0x77 0 4k", "read -P 0x77 0 4k")
	e2eNbdsh(t, []string{"URI=" + s.URI},
		"import os\nh = nbd.NBD()\nh.connect_uri(os.environ['URI'])",
		"assert h.get_size() == (1 << 20) - 65536",
		// Reading at the script's 512 KiB fails with the script's errno.
		"import errno\ntry:\n  h.pread(512, 512 * 1024 - 65536)\n  assert False\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
	)
}

func TestE2EPluginCabiCompiled(t *testing.T) {
	e2eStart(t, "qemu-io", "nbdsh")
	e2eCabiNeedCgo(t)
	so := e2eCabiCompile(t, "ramdisk")
	// The nozero filter hides the plugin's zero callback (nbdkit 1.32 has it too).
	s := e2eUnix(t, "--filter=nozero", so, "2M")
	e2eNbdsh(t, []string{"URI=" + s.URI},
		"import os\nh = nbd.NBD()\nh.connect_uri(os.environ['URI'])",
		"assert h.get_size() == 2 << 20 and not h.can_zero() and h.can_trim()",
		"h.pwrite(b'gonbd' * 100, 4096)",
		"assert h.pread(500, 4096) == b'gonbd' * 100",
		"assert h.pread(4096, 0) == bytes(4096)",
	)

	s = e2eUnix(t, so, "size=2M")
	e2eQemuIO(t, s.URI, "write -P 0x3c 1M 64k", "read -P 0x3c 1M 64k", "write -z 1M 4k", "read -P 0 1M 4k")
}

func TestE2EPluginCabiBadParameters(t *testing.T) {
	e2eStart(t)
	e2eCabiNeedCgo(t)
	so := e2eCabiCompile(t, "ramdisk")
	r := e2eRun(t, e2eServerBinary(t), "-U", filepath.Join(t.TempDir(), "s"), so, "size=banana")
	if r.Code != 1 || !strings.Contains(r.Stderr, "banana") || !strings.Contains(r.Stderr, "could not parse size") {
		t.Errorf("size=banana: %s", r)
	}
	missing := e2eCabiCompile(t, "missing")
	r = e2eRun(t, e2eServerBinary(t), "-U", filepath.Join(t.TempDir(), "s"), missing)
	if r.Code != 1 || !strings.Contains(r.Stderr, "nbdkit_no_such_function") {
		t.Errorf("a plugin needing a missing symbol: %s", r)
	}
}
