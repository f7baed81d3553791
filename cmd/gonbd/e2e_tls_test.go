package main

// End-to-end tests of TLS through the gonbd binary: qemu-img, qemu-io, nbdsh and
// nbdinfo over TLS with client certificates checked, clients with bad certificates,
// nbds URIs from --run, and certificates reloaded on SIGHUP without dropping clients.
// The certificates are made by the tests (servertest.NewTLSFiles).

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server/servertest"
)

// e2eTLSURI is the nbds URI of the default export on socket for libnbd's clients,
// with the client certificates of dir.
func e2eTLSURI(socket, dir string) string {
	return "nbds+unix:///?socket=" + socket + "&tls-certificates=" + dir
}

// e2eQemuTLS returns qemu's arguments to open the default export on socket over TLS
// with the client certificates of dir.
func e2eQemuTLS(socket, dir string, target bool) []string {
	opts := "--image-opts"
	if target {
		opts = "--target-image-opts"
	}
	return []string{"--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + dir,
		opts, "driver=nbd,path=" + socket + ",tls-creds=tls0,tls-hostname=localhost"}
}

func TestE2ETLSRequireVerifyPeer(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "nbdsh", "nbdinfo")
	files := servertest.NewTLSFiles(t)
	s := e2eUnix(t, "--tls=require", "--tls-certificates="+files.ServerDir, "--tls-verify-peer", "memory", "8M")

	// qemu-img copies a file in and out over TLS, with its client certificate.
	dir := t.TempDir()
	in, sum := e2eRandomFile(t, dir, 8<<20)
	e2eMustRun(t, "qemu-img", append([]string{"convert", "-n", "-f", "raw", in}, e2eQemuTLS(s.Socket, files.ClientDir, true)...)...)
	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "qemu-img", append(append([]string{"convert"}, e2eQemuTLS(s.Socket, files.ClientDir, false)...), "-O", "raw", out)...)
	if got, _ := e2eFileSHA256(t, out); got != sum {
		t.Fatal("qemu-img over TLS read back other data than it wrote")
	}
	r := e2eRun(t, "qemu-io", append(e2eQemuTLS(s.Socket, files.ClientDir, false), "-c", "write -P 0x3c 1M 64k", "-c", "read -P 0x3c 1M 64k")...)
	if r.Code != 0 || e2eQemuIOFailed(r) {
		t.Fatalf("qemu-io over TLS: %s", r)
	}

	// nbdsh sees TLS and the data.
	e2eNbdsh(t, nil, "h = nbd.NBD()", "h.set_uri_allow_local_file(True)",
		fmt.Sprintf("h.connect_uri(%q)", e2eTLSURI(s.Socket, files.ClientDir)),
		"assert h.get_tls_negotiated()",
		"assert h.pread(64*1024, 1024*1024) == b'\\x3c' * 65536",
		"h.pwrite(b'tls!', 0); h.flush()",
		"assert h.pread(4, 0) == b'tls!'")

	// Plaintext clients learn nothing, not even the export list.
	for _, args := range [][]string{{s.URI}, {"--list", s.URI}} {
		r := e2eRun(t, "nbdinfo", args...)
		if r.Code == 0 || strings.Contains(r.Stdout, "8388608") {
			t.Errorf("plaintext nbdinfo %q served: %s", args, r)
		}
	}
	// Clients whose certificate is missing, expired, not valid yet, or from another CA
	// fail.
	now := time.Now()
	other := servertest.NewTLSFiles(t)
	for name, dir := range map[string]string{
		"missing":       files.ClientDirWithoutCertificate(t),
		"expired":       files.ClientDirValid(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour)),
		"not yet valid": files.ClientDirValid(t, now.Add(24*time.Hour), now.Add(48*time.Hour)),
		"other CA":      mixedClientDir(t, files, other),
	} {
		r := e2eRun(t, "nbdinfo", e2eTLSURI(s.Socket, dir))
		if r.Code == 0 {
			t.Errorf("nbdinfo with a client certificate %s: served:\n%s", name, r)
		}
		r = e2eRun(t, "qemu-io", append(e2eQemuTLS(s.Socket, dir, false), "-c", "read 0 512")...)
		if r.Code == 0 && !e2eQemuIOFailed(r) {
			t.Errorf("qemu-io with a client certificate %s: served:\n%s", name, r)
		}
	}
	// And the server still serves good clients.
	e2eMustRun(t, "nbdinfo", "--size", e2eTLSURI(s.Socket, files.ClientDir))
}

// mixedClientDir returns a client directory that trusts files' CA (so that it
// verifies the server) but presents the client certificate of other, signed by
// another CA.
func mixedClientDir(t *testing.T, files, other *servertest.TLSFiles) string {
	t.Helper()
	dir := files.ClientDirWithoutCertificate(t)
	for _, name := range []string{"client-cert.pem", "client-key.pem"} {
		data, err := os.ReadFile(filepath.Join(other.ClientDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestE2ETLSCaptive checks the URI and $tls --run sees, and that --run's clients reach
// the export through it.
func TestE2ETLSCaptive(t *testing.T) {
	e2eStart(t, "nbdinfo")
	files := servertest.NewTLSFiles(t)
	bin := e2eServerBinary(t)
	for _, tc := range []struct {
		args       []string
		uriPrefix  string
		tlsVar     string
		listenArgs []string
	}{
		{[]string{"--tls=require"}, "nbds+unix://", "2", nil},
		{[]string{"--tls=on"}, "nbd+unix://", "1", nil},
		{nil, "nbd+unix://", "1", nil}, // certificates given: on, as nbdkit
		{[]string{"--tls=require"}, "nbds://127.0.0.1:", "2", []string{"-p", "0", "-i", "127.0.0.1"}},
	} {
		args := append(append(append([]string{}, tc.args...), tc.listenArgs...), "--tls-certificates="+files.ServerDir,
			"--run", `echo "uri=$uri tls=$tls"; nbdinfo --size "$uri&tls-certificates=`+files.ClientDir+`" 2>&1 || nbdinfo --size "$uri?tls-certificates=`+files.ClientDir+`"`,
			"memory", "1M")
		r := e2eRun(t, bin, args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "uri="+tc.uriPrefix) || !strings.Contains(r.Stdout, "tls="+tc.tlsVar+"\n") ||
			!strings.Contains(r.Stdout, "1048576") {
			t.Errorf("gonbd %q: %s", args, r)
		}
	}
	// --print-uri says the same.
	sock := filepath.Join(t.TempDir(), "s")
	s := e2eStartServer(t, "-f", "-U", sock, "--print-uri", "--tls=require", "--tls-certificates="+files.ServerDir, "memory", "1M")
	s.waitReady("unix", sock)
	deadline := time.Now().Add(e2eStartTimeout)
	for !strings.Contains(s.Stderr.String(), "nbds+unix://?socket="+sock) {
		if time.Now().After(deadline) {
			t.Fatalf("--print-uri with --tls=require printed %q", s.Stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestE2ETLSBadOptions(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls=require", "--tls-certificates=" + empty}, "--tls=require, but the TLS certificates could not be loaded"},
		{[]string{"--tls=require", "--tls-psk=/etc/keys.psk"}, "crypto/tls has no PSK cipher suites"},
		{[]string{"--tls=maybe"}, `--tls: "maybe" is not off, on or require`},
		{[]string{"--idle-timeout=soon"}, `--idle-timeout: "soon" is not a number of seconds`},
	} {
		r := e2eRun(t, bin, append(append([]string{"-f", "-U", filepath.Join(t.TempDir(), "s")}, tc.args...), "memory", "1M")...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("gonbd %q: %s\nwant exit 1 and %q", tc.args, r, tc.want)
		}
	}
	// --tls=on without certificates warns and serves in plaintext.
	r := e2eRun(t, bin, "--tls=on", "--tls-certificates="+empty, "-U", "-", "--run", `echo "tls=$tls"`, "memory", "1M")
	if r.Code != 0 || !strings.Contains(r.Stderr, "warning: --tls=on, but the TLS certificates could not be loaded") || !strings.Contains(r.Stdout, "tls=\n") {
		t.Errorf("--tls=on without certificates: %s", r)
	}
}

// TestE2ETLSReloadOnSIGHUP replaces the certificates (a new CA) while a client is
// connected and sends SIGHUP: new clients need the new CA, the connected one goes on.
func TestE2ETLSReloadOnSIGHUP(t *testing.T) {
	e2eStart(t)
	first, second := servertest.NewTLSFiles(t), servertest.NewTLSFiles(t)
	certDir := t.TempDir()
	copyTLSDir(t, first.ServerDir, certDir)
	s := e2eUnix(t, "--tls=require", "--tls-certificates="+certDir, "--tls-verify-peer", "memory", "1M")
	ctx, cancel := context.WithTimeout(context.Background(), e2eClientTimeout)
	defer cancel()
	dial := func(cfg *tls.Config) (*client.Conn, error) {
		return client.Dial(ctx, "unix", s.Socket, &client.Options{TLSConfig: cfg})
	}
	old, err := dial(first.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if c, err := dial(second.ClientConfig); err == nil {
		c.Close()
		t.Fatal("a client of the second CA was served before the reload")
	}

	copyTLSDir(t, second.ServerDir, certDir)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(e2eStartTimeout)
	for {
		c, err := dial(second.ClientConfig)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a client of the second CA is still refused after SIGHUP: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, err := dial(first.ClientConfig); err == nil {
		c.Close()
		t.Error("a client of the first CA is served after the reload")
	}
	data := []byte("still connected")
	if err := old.WriteAt(ctx, data, 0, 0); err != nil {
		t.Fatalf("the client connected before the reload: %v", err)
	}
	got := make([]byte, len(data))
	if err := old.ReadAt(ctx, got, 0, 0); err != nil || string(got) != string(data) {
		t.Fatalf("the client connected before the reload read %q, %v", got, err)
	}

	// A reload that fails keeps the certificates in use.
	if err := os.Remove(filepath.Join(certDir, "server-key.pem")); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(e2eStartTimeout)
	for !strings.Contains(s.Stderr.String(), "reloading the TLS certificates failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no error logged for a failed reload:\n%s", s.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := dial(second.ClientConfig)
	if err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
	c.Close()
}

func copyTLSDir(t *testing.T, from, to string) {
	t.Helper()
	for _, name := range []string{"ca-cert.pem", "server-cert.pem", "server-key.pem"} {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
