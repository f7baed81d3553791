package main

// End-to-end tests of the tls-fallback filter through the gonbd binary: with --tls=on,
// clients in TLS reach the plugin and plaintext ones read the notice.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

func TestE2EFilterTLSFallback(t *testing.T) {
	e2eStart(t, "nbdsh", "nbdinfo", "qemu-io")
	files := servertest.NewTLSFiles(t)
	s := e2eUnix(t, "--tls=on", "--tls-certificates="+files.ServerDir, "--filter=tls-fallback",
		"memory", "4M", "tlsreadme=Use TLS, please.")

	// In TLS: the memory disk, writable.
	r := e2eRun(t, "qemu-io", append(e2eQemuTLS(s.Socket, files.ClientDir, false), "-c", "write -P 0x42 0 64k", "-c", "read -P 0x42 0 64k")...)
	if r.Code != 0 || e2eQemuIOFailed(r) {
		t.Fatalf("qemu-io over TLS: %s", r)
	}
	e2eNbdsh(t, nil, "h = nbd.NBD()", "h.set_uri_allow_local_file(True)",
		fmt.Sprintf("h.connect_uri(%q)", e2eTLSURI(s.Socket, files.ClientDir)),
		"assert h.get_size() == 4*1024*1024",
		"assert h.pread(4, 0) == b'\\x42' * 4")

	// In plaintext: the notice, read-only, whatever export is named.
	for _, export := range []string{"", "anything"} {
		e2eNbdsh(t, nil, "h = nbd.NBD()",
			fmt.Sprintf("h.connect_uri(%q)", "nbd+unix:///"+export+"?socket="+s.Socket),
			"assert not h.get_tls_negotiated()",
			"assert h.get_size() == 512",
			"assert h.is_read_only()",
			"assert h.pread(512, 0) == b'Use TLS, please.' + bytes(512 - 16)")
	}
	if r := e2eMustRun(t, "nbdinfo", "--list", s.URI); strings.Contains(r.Stdout, "4194304") {
		t.Errorf("the plaintext list shows the real export:\n%s", r)
	}
}

func TestE2EFilterTLSFallbackRefusesSerializedConnections(t *testing.T) {
	e2eStart(t)
	r := e2eRun(t, e2eServerBinary(t), "-f", "-U", filepath.Join(t.TempDir(), "s"), "--tls=on",
		"--filter=tls-fallback", "--filter=noparallel", "memory", "1M", "serialize=connections")
	if r.Code != 1 || !strings.Contains(r.Stderr, "serialize_connections") {
		t.Errorf("tls-fallback over serialized connections: %s\nwant exit 1 saying why", r)
	}
}
