//go:build unix

package main

// End-to-end tests of the ssh plugin through the gonbd binary, against a real OpenSSH
// sshd that the test starts on a loopback port with keys made by ssh-keygen.

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// e2eSSHD is a running sshd that accepts one key, for the user running the tests.
type e2eSSHD struct {
	port                 int
	user                 string
	identity, knownHosts string
	hostKeyFingerprint   string // as ssh-keygen -l prints it: SHA256:...
	dir                  string
}

// params returns the ssh plugin's parameters that reach the server and log in.
func (s *e2eSSHD) params(path string) []string {
	return s.paramsKnownHosts(path, s.knownHosts)
}

// paramsKnownHosts is params with another known_hosts file.
func (s *e2eSSHD) paramsKnownHosts(path, knownHosts string) []string {
	return []string{"ssh", "host=127.0.0.1", "port=" + strconv.Itoa(s.port), "user=" + s.user,
		"identity=" + s.identity, "known-hosts=" + knownHosts, path}
}

// e2eStartSSHD starts /usr/bin/sshd, skipping the test when it is missing (failing it
// under GONBD_REQUIRE_CLIENTS=1), and stops it when the test ends.
func e2eStartSSHD(t *testing.T) *e2eSSHD {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		if os.Getenv("GONBD_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("sshd is needed and GONBD_REQUIRE_CLIENTS=1: %v", err)
		}
		t.Skipf("no sshd: %v", err)
	}
	e2eNeedClient(t, "ssh-keygen")
	if os.Geteuid() == 0 {
		// sshd run by root wants its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "gonbd-e2e-ssh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &e2eSSHD{dir: dir, identity: filepath.Join(dir, "id"), knownHosts: filepath.Join(dir, "known_hosts")}
	if s.user = os.Getenv("USER"); s.user == "" {
		s.user = "root"
	}
	hostKey := filepath.Join(dir, "host_key")
	for _, key := range []string{hostKey, s.identity} {
		e2eMustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gonbd e2e", "-f", key)
	}
	authorized, err := os.ReadFile(s.identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeE2EFile(t, filepath.Join(dir, "authorized_keys"), string(authorized))
	fields := strings.Fields(e2eMustRun(t, "ssh-keygen", "-l", "-f", hostKey+".pub").Stdout)
	if len(fields) < 2 {
		t.Fatalf("ssh-keygen -l printed %q", fields)
	}
	s.hostKeyFingerprint = fields[1]

	s.port = e2eFreePort(t)
	config := filepath.Join(dir, "sshd_config")
	writeE2EFile(t, config, strings.Join([]string{
		"Port " + strconv.Itoa(s.port), "ListenAddress 127.0.0.1",
		"HostKey " + hostKey, "PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"StrictModes no", "UsePAM no", "UseDNS no", "PasswordAuthentication no",
		"PermitRootLogin prohibit-password", "MaxStartups 100", "Subsystem sftp internal-sftp",
	}, "\n")+"\n")
	cmd := exec.Command(sshd, "-D", "-e", "-f", config)
	log := new(e2eBuffer)
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its per-connection children too
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("sshd's log:\n%s", log)
		}
	})
	address := "127.0.0.1:" + strconv.Itoa(s.port)
	for deadline := time.Now().Add(e2eStartTimeout); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", address, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			banner, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(banner, "SSH-2.0-") {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not answer on %s:\n%s", address, log)
		}
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	keyFields := strings.Fields(string(hostPub))
	writeE2EFile(t, s.knownHosts, "[127.0.0.1]:"+strconv.Itoa(s.port)+" "+keyFields[0]+" "+keyFields[1]+"\n")
	return s
}

func writeE2EFile(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestE2EPluginSSH(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "nbdcopy")
	sshd := e2eStartSSHD(t)
	remote := filepath.Join(sshd.dir, "disk.img")
	writeE2EFile(t, remote, "")
	if err := os.Truncate(remote, 16*e2eMiB); err != nil {
		t.Fatal(err)
	}
	s := e2eUnix(t, sshd.params(remote)...)

	in, sum := e2eRandomFile(t, sshd.dir, 16*e2eMiB)
	e2eMustRun(t, "nbdcopy", in, s.URI)
	if got, n := e2eFileSHA256(t, remote); got != sum || n != 16*e2eMiB {
		t.Fatalf("the remote file holds %d bytes with SHA-256 %s, want the image's %s", n, got, sum)
	}
	out := filepath.Join(sshd.dir, "out.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
	if got, n := e2eFileSHA256(t, out); got != sum || n != 16*e2eMiB {
		t.Fatalf("copied out %d bytes with SHA-256 %s, want the image's %s", n, got, sum)
	}
	e2eQemuIO(t, s.URI, "write -P 0x5a 1M 64k", "flush", "read -P 0x5a 1M 64k")

	// create=true makes the file on the first connection, with the mode asked for.
	created := filepath.Join(sshd.dir, "created.img")
	c := e2eUnix(t, append(sshd.params(created), "create=true", "create-size=2M", "create-mode=0640")...)
	e2eQemuIO(t, c.URI, "write -P 0x11 0 4k", "read -P 0x11 0 4k", "read -P 0 4k 1M")
	if info, err := os.Stat(created); err != nil || info.Size() != 2*e2eMiB || info.Mode().Perm() != 0o640 {
		t.Errorf("create=true made %v (%v), want 2 MiB with mode 0640", info, err)
	}
}

func TestE2EPluginSSHBadParameters(t *testing.T) {
	e2eStart(t)
	sshd := e2eStartSSHD(t)
	bin := e2eServerBinary(t)
	remote := filepath.Join(sshd.dir, "disk.img")
	writeE2EFile(t, remote, "x")
	otherHosts := filepath.Join(sshd.dir, "other_known_hosts")
	writeE2EFile(t, otherHosts, "")
	sock := filepath.Join(sshd.dir, "sock")
	for _, tt := range []struct {
		args      []string
		want      string
		gonbdOnly bool // nbdkit starts, and fails each client
	}{
		// An unknown host is refused at start-up, with its fingerprint.
		{sshd.paramsKnownHosts(remote, otherHosts), sshd.hostKeyFingerprint, true},
		{sshd.params(filepath.Join(sshd.dir, "missing.img")), "missing.img on 127.0.0.1:" + strconv.Itoa(sshd.port) + ": no such file", true},
		{append(sshd.params(remote), "compression=true"), "compression=true: not supported", true},
		{[]string{"ssh", "host=127.0.0.1"}, "missing required parameter path", false},
		{append(sshd.params(remote), "create=true"), "create=true needs create-size=", false},
	} {
		if tt.gonbdOnly && e2eNbdkit() {
			continue
		}
		r := e2eRun(t, bin, append([]string{"-f", "-U", sock}, tt.args...)...)
		if r.Code != 1 || (!e2eNbdkit() && !strings.Contains(r.Stderr, tt.want)) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
