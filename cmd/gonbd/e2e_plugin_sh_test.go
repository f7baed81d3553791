package main

// End-to-end tests of the sh plugin through the gonbd binary, with the scripts of the
// plugin's own tests (plugins/sh/testdata).

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// e2eShScript returns the absolute path of a script in plugins/sh/testdata.
func e2eShScript(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "plugins", "sh", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestE2EPluginSh(t *testing.T) {
	e2eStart(t, "qemu-io", "qemu-img", "nbdsh")
	for _, script := range []string{"disk.sh", "disk.py"} {
		t.Run(script, func(t *testing.T) {
			disk := filepath.Join(t.TempDir(), "disk.img")
			if err := os.WriteFile(disk, make([]byte, e2eMiB), 0o600); err != nil {
				t.Fatal(err)
			}
			s := e2eUnix(t, "sh", e2eShScript(t, script), "file="+disk)

			e2eQemuIO(t, s.URI, "write -P 0x61 4k 8k", "read -P 0x61 4k 8k", "write -z 6k 1k", "flush")
			data, err := os.ReadFile(disk)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, e2eMiB)
			copy(want[4096:], bytes.Repeat([]byte{0x61}, 8192))
			clear(want[6144:7168])
			if !bytes.Equal(data, want) {
				t.Error("the file does not hold what qemu-io wrote through the script")
			}
			e2eNbdsh(t, []string{"GONBD_URI=" + s.URI}, `
import os
h = nbd.NBD()
h.add_meta_context("base:allocation")
h.connect_uri(os.environ["GONBD_URI"])
assert h.get_size() == 1048576 and not h.is_read_only() and h.can_trim()
e = []
h.block_status(1048576, 0, lambda ctx, off, ents, err: e.extend(ents))
assert e == [65536, 0, 1048576 - 65536, 3], e
`)
			src, sum := e2eRandomFile(t, t.TempDir(), e2eMiB)
			e2eMustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, s.URI)
			if got, _ := e2eFileSHA256(t, disk); got != sum {
				t.Errorf("after qemu-img convert, the file's SHA-256 is %s, want %s", got, sum)
			}
		})
	}
}

// TestE2EPluginShInline serves a script read from standard input, in captive mode.
func TestE2EPluginShInline(t *testing.T) {
	e2eStart(t, "nbdinfo", "qemu-io")
	script := `case "$1" in
  get_size) echo 3M ;;
  pread) head -c "$3" /dev/zero | tr '\0' 'z' ;;
  *) exit 2 ;;
esac
`
	ctx, cancel := context.WithTimeout(context.Background(), e2eClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eServerBinary(t), "-U", "-", "sh", "-",
		"--run", `nbdinfo --size "$uri" && qemu-io -r -f raw -c "read -P 0x7a 1M 64k" "$uri"`)
	cmd.Env = e2eEnv()
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "3145728\n") || strings.Contains(string(out), "fail") {
		t.Errorf("gonbd -U - sh - --run ...: %v\n%s", err, out)
	}
}

func TestE2EPluginShErrors(t *testing.T) {
	e2eStart(t, "nbdsh")
	script := filepath.Join(t.TempDir(), "full.sh")
	body := `#!/bin/sh
case "$1" in
  get_size) echo 1M ;;
  can_write) exit 0 ;;
  pread) dd if=/dev/zero count=$3 iflag=count_bytes status=none ;;
  pwrite) cat >/dev/null; echo "ENOSPC no room" >&2; exit 1 ;;
  *) exit 2 ;;
esac
`
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	s := e2eUnix(t, "sh", script)
	e2eNbdsh(t, []string{"GONBD_URI=" + s.URI}, `
import os
h = nbd.NBD()
h.connect_uri(os.environ["GONBD_URI"])
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "the write succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e.string
assert h.pread(512, 0) == bytes(512)
`)
}

func TestE2EPluginShBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	disk := e2eShScript(t, "disk.sh")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"sh"}, "missing script parameter"},
		{[]string{"sh", filepath.Join(t.TempDir(), "nope.sh")}, "nope.sh: no such file or directory"},
		{[]string{"sh", "file=disk.img", disk}, "the first parameter must be script="},
		{[]string{"sh", disk, "colour=blue"}, "unknown parameter colour"},
		{[]string{"sh", disk}, "file=DISK is required"},
		{[]string{"sh", disk, "disk.img"}, "no magic_config_key"},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
