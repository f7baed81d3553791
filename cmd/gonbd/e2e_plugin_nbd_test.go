package main

// End-to-end tests of the nbd plugin through the gonbd binary: a second server (the
// same binary serving memory) stands behind the proxy.

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EPluginNbd(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "nbdcopy", "nbdinfo")
	remote := e2eUnix(t, "memory", "16M")
	proxy := e2eUnix(t, "nbd", remote.URI) // uri= is the magic key

	// An image written through the proxy is on the server.
	dir := t.TempDir()
	in, sum := e2eRandomFile(t, dir, 16*e2eMiB)
	e2eMustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", in, proxy.URI)
	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "nbdcopy", remote.URI, out)
	if got, n := e2eFileSHA256(t, out); got != sum || n != 16*e2eMiB {
		t.Fatalf("the server behind the proxy holds %d bytes with SHA-256 %s, want the image's %s", n, got, sum)
	}

	e2eQemuIO(t, proxy.URI, "write -z 4M 1M", "read -P 0 4M 1M", "write -P 0x5a 8M 64k", "flush", "read -P 0x5a 8M 64k")
	e2eQemuIO(t, remote.URI, "read -P 0 4M 1M", "read -P 0x5a 8M 64k")

	// Block status passes through: the map is the server's.
	want := e2eMustRun(t, "nbdinfo", "--map", remote.URI).Stdout
	if got := e2eMustRun(t, "nbdinfo", "--map", proxy.URI).Stdout; got != want {
		t.Errorf("map through the proxy:\n%s\nof the server:\n%s", got, want)
	}
}

// TestE2EPluginNbdCommand runs the server as the plugin's child, by socket activation.
func TestE2EPluginNbdCommand(t *testing.T) {
	e2eStart(t, "nbdsh")
	proxy := e2eUnix(t, "nbd", "command="+e2eServerBinary(t), "arg=memory", "arg=8M")
	e2eNbdsh(t, []string{"GONBD_URI=" + proxy.URI},
		"import os",
		"h = nbd.NBD()",
		"h.connect_uri(os.environ['GONBD_URI'])",
		"assert h.get_size() == 8 * 1024 * 1024",
		"h.pwrite(b'child' * 1000, 4096)",
		"assert h.pread(5000, 4096) == b'child' * 1000")
}

func TestE2EPluginNbdBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	for _, tt := range []struct {
		args      []string
		want      string
		gonbdOnly bool // nbdkit accepts it
	}{
		{[]string{"nbd"}, "no NBD server to forward to", false},
		{[]string{"nbd", "socket=/a", "hostname=b"}, "socket= and hostname= each name the NBD server", false},
		{[]string{"nbd", "socket=/a", "tls=maybe"}, `tls=maybe: could not parse TLS mode "maybe"`, false},
		{[]string{"nbd", "socket=/a", "tls-psk=/keys"}, "pre-shared keys", true},
		{[]string{"-f", "nbd", "shared=true", "socket=" + filepath.Join(dir, "nothing-here")}, "connecting to unix " + filepath.Join(dir, "nothing-here"), false},
	} {
		if tt.gonbdOnly && e2eNbdkit() {
			continue
		}
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if e2eNbdkit() {
			tt.want = "" // nbdkit says it in its own words
		}
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
