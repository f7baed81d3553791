//go:build unix

package ssh

// End-to-end tests against a real OpenSSH sshd, driven by the real NBD clients.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
	"golang.org/x/crypto/ssh"
)

// TestSSHDCopy copies a 64 MiB image into a remote file and back out through gonbd,
// with nbdcopy one way and qemu-img the other, and compares checksums.
func TestSSHDCopy(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img")
	sshd := startSSHD(t)
	const size = 64 << 20
	source, sum := servertest.RandomFile(t, sshd.Dir, size)
	remote := filepath.Join(sshd.Dir, "disk.img")
	if err := os.WriteFile(remote, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(remote, size); err != nil {
		t.Fatal(err)
	}

	// The plugin made as the command line makes it, with its log kept.
	log := &servertest.LogBuffer{}
	list := make([]server.Param, 0, 6)
	for _, kv := range sshd.Params(remote) {
		key, value, _ := strings.Cut(kv, "=")
		list = append(list, server.Param{Key: key, Value: value})
	}
	plugin, err := Spec().New(server.NewParams(list, log.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, server.PluginLayer("ssh", plugin), server.Options{})
	servertest.MustRun(t, "nbdcopy", source, s.URI())
	if got, n := servertest.FileSHA256(t, remote); got != sum || n != size {
		t.Fatalf("after nbdcopy into the export the remote file has %d bytes with SHA-256 %s, want %d bytes with %s", n, got, size, sum)
	}

	out := filepath.Join(sshd.Dir, "out.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	if got, n := servertest.FileSHA256(t, out); got != sum || n != size {
		t.Fatalf("qemu-img copied out %d bytes with SHA-256 %s, want %d bytes with %s", n, got, size, sum)
	}
	// OpenSSH 8.6 and later take large packets.
	if !strings.Contains(log.String(), fmt.Sprintf("sftp_packet=%d", openSSHSFTPPacket)) {
		t.Errorf("OpenSSH's sftp-server does not get large packets:\n%s", log)
	}
}

// startNbdkit serves params with nbdkit's ssh plugin on a Unix socket until the test
// ends, and returns its URI.
func startNbdkit(t testing.TB, params ...string) string {
	t.Helper()
	servertest.NeedClient(t, "nbdkit")
	sock := filepath.Join(shortTempDir(t), "nbdkit.sock")
	cmd := exec.Command("nbdkit", append([]string{"-f", "-U", sock, "--exit-with-parent", "ssh"}, params...)...)
	cmd.Env = servertest.Env()
	log := &servertest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("nbdkit exited:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nbdkit does not serve:\n%s", log)
		}
	}
	return "nbd+unix:///?socket=" + sock
}

// makeImage writes a file of size bytes of a pattern and returns its path.
func makeImage(t testing.TB, path string, size int) string {
	t.Helper()
	if err := os.WriteFile(path, patterned(size), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSSHDLikeNbdkit serves one file through gonbd and through nbdkit's ssh plugin on
// the same sshd, and checks that clients see the same export.
func TestSSHDLikeNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh", "nbdkit")
	sshd := startSSHD(t)
	image := makeImage(t, filepath.Join(sshd.Dir, "disk.img"), 3<<20+512)
	gonbd := servertest.StartStack(t, Spec(), nil, sshd.Params(image)...).URI()
	nbdkit := startNbdkit(t, sshd.Params(image)...)

	info := func(uri string) map[string]any {
		var v struct {
			Exports []map[string]any `json:"exports"`
		}
		out := servertest.MustRun(t, "nbdinfo", "--json", uri).Stdout
		if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Exports) != 1 {
			t.Fatalf("nbdinfo --json %s: %v\n%s", uri, err, out)
		}
		return v.Exports[0]
	}
	ours, theirs := info(gonbd), info(nbdkit)
	for _, key := range []string{"export-size", "is_read_only", "can_flush", "can_fua", "can_trim",
		"can_zero", "can_fast_zero", "can_multi_conn", "can_cache", "is_rotational"} {
		if fmt.Sprint(ours[key]) != fmt.Sprint(theirs[key]) {
			t.Errorf("%s: gonbd says %v, nbdkit %v", key, ours[key], theirs[key])
		}
	}
	// The same bytes, from both.
	for _, uri := range []string{gonbd, nbdkit} {
		servertest.Nbdsh(t, uri,
			fmt.Sprintf("want = open(%q, 'rb').read()", image),
			"assert h.pread(len(want), 0) == want",
			"assert h.pread(1000, len(want) - 1000) == want[-1000:]",
		)
	}
}

// TestSSHDRequests drives every request the plugin serves through nbdsh.
func TestSSHDRequests(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	sshd := startSSHD(t)
	image := makeImage(t, filepath.Join(sshd.Dir, "disk.img"), 1<<20)
	s := servertest.StartStack(t, Spec(), nil, sshd.Params(image)...)
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 1 << 20",
		"assert h.can_flush() and h.can_fua() and h.can_zero() and not h.can_trim() and not h.is_read_only()",
		"h.pwrite(b'\\xab' * 100000, 4000)",
		"h.pwrite(b'fua' * 10, 200000, nbd.CMD_FLAG_FUA)",
		"h.zero(65536, 512 * 1024)",
		"h.flush()",
		"assert h.pread(100000, 4000) == b'\\xab' * 100000",
		"assert h.pread(30, 200000) == b'fua' * 10",
		"assert h.pread(65536, 512 * 1024) == bytes(65536)",
	)
	want := patterned(1 << 20)
	copy(want[4000:], bytes.Repeat([]byte{0xab}, 100000))
	copy(want[200000:], bytes.Repeat([]byte("fua"), 10))
	clear(want[512<<10 : 576<<10])
	if got, err := os.ReadFile(image); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the remote file does not hold what nbdsh wrote (%v)", err)
	}
	// Reads past the end are refused before the plugin sees them, as always.
	if r := servertest.RunQemuIO(t, s.URI(), "read 1048064 1024"); !servertest.QemuIOFailed(r) {
		t.Errorf("a read past the end succeeded: %s", r)
	}

	// Read-only, writes are refused and reads still work.
	ro := servertest.Start(t, mustStack(t, sshd.Params(image)...), server.Options{ReadOnly: true})
	servertest.Nbdsh(t, ro.URI(),
		"assert h.is_read_only()",
		"assert h.pread(3, 200000) == b'fua'",
	)
}

func mustStack(t testing.TB, params ...string) server.Layer {
	t.Helper()
	layer, err := servertest.Stack(Spec(), nil, params...)
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// stackReady builds the stack from params and returns what GetReady says.
func stackReady(t testing.TB, params ...string) error {
	t.Helper()
	layer, err := servertest.Stack(Spec(), nil, params...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := layer.GetReady(ctx); err != nil {
		return err
	}
	layer.Cleanup(ctx)
	return nil
}

// TestSSHDHostKeys checks that the host key is verified against known_hosts.
func TestSSHDHostKeys(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io")
	sshd := startSSHD(t)
	image := makeImage(t, filepath.Join(sshd.Dir, "disk.img"), 64<<10)
	fingerprint := ssh.FingerprintSHA256(sshd.HostKey)
	other := writeKey(t, filepath.Join(sshd.Dir, "other_key")).PublicKey()

	params := []string{"host=" + sshd.Host, "port=" + sshd.Port, "user=" + sshd.User, "identity=" + sshd.Identity, image}
	wrong := filepath.Join(sshd.Dir, "wrong_known_hosts")
	writeFile(t, wrong, knownHostsLine(sshd.Address(), other))
	err := stackReady(t, append(params, "known-hosts="+wrong)...)
	if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), fingerprint) {
		t.Errorf("a wrong host key: %v", err)
	}
	// Either of two files may hold the key.
	if err := stackReady(t, append(params, "known-hosts="+wrong, "known-hosts="+sshd.KnownHosts)...); err != nil {
		t.Errorf("the key in the second of two known-hosts files: %v", err)
	}

	unknown := filepath.Join(sshd.Dir, "unknown_known_hosts")
	writeFile(t, unknown, knownHostsLine("192.0.2.7:22", sshd.HostKey))
	err = stackReady(t, append(params, "known-hosts="+unknown)...)
	if err == nil || !strings.Contains(err.Error(), "is unknown") || !strings.Contains(err.Error(), fingerprint) {
		t.Errorf("an unknown host: %v", err)
	}
	// With no known-hosts= the defaults apply: the test's empty home has none.
	if err := stackReady(t, params...); err == nil || !strings.Contains(err.Error(), "is unknown") {
		t.Errorf("an unknown host and the default files: %v", err)
	}
	// Unless told not to check.
	s := servertest.StartStack(t, Spec(), nil, append(params, "verify-remote-host=false")...)
	servertest.QemuIO(t, s.URI(), "read -P 0 0 1", "write -P 0x11 0 4k", "read -P 0x11 0 4k")
	// ~/.ssh/known_hosts is read by default.
	home, _ := os.UserHomeDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".ssh", "known_hosts"), knownHostsLine(sshd.Address(), sshd.HostKey))
	if err := stackReady(t, params...); err != nil {
		t.Errorf("a host in ~/.ssh/known_hosts: %v", err)
	}
}

// TestSSHDAgent logs in with a key held by a real ssh-agent, and with the default
// identity file.
func TestSSHDAgent(t *testing.T) {
	servertest.EndToEnd(t, "ssh-agent", "ssh-add", "qemu-io")
	sshd := startSSHD(t)
	image := makeImage(t, filepath.Join(sshd.Dir, "disk.img"), 64<<10)
	params := []string{"host=" + sshd.Host, "port=" + sshd.Port, "user=" + sshd.User,
		"known-hosts=" + sshd.KnownHosts, image}
	err := stackReady(t, params...)
	if err == nil || !strings.Contains(err.Error(), "logging in to "+sshd.Address()+" as "+sshd.User+" failed") {
		t.Fatalf("with no key at all: %v", err)
	}

	sock := filepath.Join(shortTempDir(t), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	agent.Env = servertest.Env()
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not make its socket")
		}
	}
	servertest.RunEnv(t, []string{"SSH_AUTH_SOCK=" + sock}, "ssh-add", sshd.Identity)
	if r := servertest.RunEnv(t, []string{"SSH_AUTH_SOCK=" + sock}, "ssh-add", "-l"); r.Code != 0 {
		t.Fatalf("ssh-add did not add the key: %s", r)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	s := servertest.StartStack(t, Spec(), nil, params...)
	servertest.QemuIO(t, s.URI(), "write -P 0x22 8k 8k", "read -P 0x22 8k 8k")
	t.Setenv("SSH_AUTH_SOCK", "")

	// ~/.ssh/id_ed25519 is tried by default.
	home, _ := os.UserHomeDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(sshd.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := stackReady(t, params...); err != nil {
		t.Errorf("with the default identity file: %v", err)
	}
}

// TestSSHDCreate creates a file named relative to the remote home directory.
func TestSSHDCreate(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io")
	sshd := startSSHD(t)
	created := filepath.Join(sshd.Home, "created.img")
	params := append(sshd.Params("created.img"), "create=true", "create-size=4M", "create-mode=0640")

	s := servertest.StartStack(t, Spec(), nil, params...)
	if _, err := os.Stat(created); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file exists before a client connected: %v", err)
	}
	servertest.QemuIO(t, s.URI(), "write -P 0x33 1M 64k")
	servertest.QemuIO(t, s.URI(), "read -P 0x33 1M 64k", "read -P 0 0 1M")
	info, err := os.Stat(created)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 4<<20 || info.Mode().Perm() != 0o640 {
		t.Errorf("created %d bytes with mode %v, want 4 MiB and 0640", info.Size(), info.Mode())
	}

	// Without create=true, a missing file stops the server from starting.
	err = stackReady(t, sshd.Params("missing.img")...)
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "missing.img on "+sshd.Address()+": no such file") {
		t.Errorf("a missing file: %v", err)
	}
	err = stackReady(t, sshd.Params(sshd.Home)...)
	if !errors.Is(err, syscall.EISDIR) || !strings.Contains(err.Error(), "is a directory, not a disk image") {
		t.Errorf("a directory: %v", err)
	}
}
