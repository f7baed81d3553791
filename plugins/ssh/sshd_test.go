//go:build unix

package ssh

// A real OpenSSH sshd for the end-to-end tests: started by the test on a loopback port
// with a configuration, host key and authorized key of its own in a temporary
// directory, and stopped when the test ends.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server/servertest"
	"golang.org/x/crypto/ssh"
)

// sshdPath is where Debian's openssh-server installs sshd; sshd must be started by
// its absolute path.
const sshdPath = "/usr/sbin/sshd"

// testSSHD is a running sshd.
type testSSHD struct {
	Host, Port string
	// User is who the tests log in as: the user running them (sshd run by anyone
	// else than root can only log that user in).
	User string
	// Identity is a private key file sshd accepts; KnownHosts a known_hosts file
	// holding the host key.
	Identity, KnownHosts string
	HostKey              ssh.PublicKey
	// Home is the SFTP server's starting directory, where relative paths lead.
	Home string
	// Dir holds the files of the test: images to serve live there too.
	Dir string
	log *servertest.LogBuffer
}

// Address returns host:port.
func (s *testSSHD) Address() string { return net.JoinHostPort(s.Host, s.Port) }

// Params returns the plugin parameters that reach the server and log in.
func (s *testSSHD) Params(path string) []string {
	return []string{"host=" + s.Host, "port=" + s.Port, "user=" + s.User,
		"identity=" + s.Identity, "known-hosts=" + s.KnownHosts, "path=" + path}
}

// startSSHD starts sshd, or skips the test when there is none (fails it under
// GONBD_REQUIRE_CLIENTS=1). It also isolates the test from the user's SSH files.
func startSSHD(t testing.TB) *testSSHD {
	t.Helper()
	servertest.EndToEnd(t)
	if _, err := os.Stat(sshdPath); err != nil {
		if os.Getenv("GONBD_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("sshd is needed and GONBD_REQUIRE_CLIENTS=1: %v", err)
		}
		t.Skipf("no sshd: %v", err)
	}
	isolate(t)
	if os.Geteuid() == 0 {
		// sshd run by root wants its privilege separation directory, which the
		// service's start-up normally makes.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("making sshd's privilege separation directory: %v", err)
		}
	}
	dir := shortTempDir(t)
	s := &testSSHD{Host: "127.0.0.1", User: currentUser(t), Dir: dir, Home: filepath.Join(dir, "home"), log: &servertest.LogBuffer{}}
	if err := os.Mkdir(s.Home, 0o755); err != nil {
		t.Fatal(err)
	}
	hostKeyFile := filepath.Join(dir, "host_ed25519_key")
	hostKey := writeKey(t, hostKeyFile)
	s.HostKey = hostKey.PublicKey()
	s.Identity = filepath.Join(dir, "id_ed25519")
	clientKey := writeKey(t, s.Identity)
	authorized := filepath.Join(dir, "authorized_keys")
	writeFile(t, authorized, string(ssh.MarshalAuthorizedKey(clientKey.PublicKey())))

	for attempt := 0; ; attempt++ {
		s.Port = strconv.Itoa(freePort(t))
		config := filepath.Join(dir, "sshd_config")
		writeFile(t, config, strings.Join([]string{
			"Port " + s.Port,
			"ListenAddress " + s.Host,
			"HostKey " + hostKeyFile,
			"PidFile " + filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile " + authorized,
			"StrictModes no",
			"UsePAM no",
			"UseDNS no",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"PermitRootLogin prohibit-password",
			"MaxStartups 100",
			"MaxSessions 100",
			"LogLevel VERBOSE",
			"Subsystem sftp internal-sftp -d " + s.Home,
		}, "\n")+"\n")
		cmd := exec.Command(sshdPath, "-D", "-e", "-f", config)
		cmd.Stderr = s.log
		// A group of its own, so that the end of the test ends the per-connection
		// processes sshd forks too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting sshd: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		err := waitForSSH(s.Address(), exited)
		if err == nil {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("sshd's log:\n%s", s.log)
				}
			})
			break
		}
		stop()
		// Another program may have taken the port in between: try another.
		if attempt == 2 || !strings.Contains(s.log.String(), "Bind to port") {
			t.Fatalf("sshd did not start: %v\n%s", err, s.log)
		}
	}

	s.KnownHosts = filepath.Join(dir, "known_hosts")
	writeFile(t, s.KnownHosts, knownHostsLine(s.Address(), s.HostKey))
	return s
}

// waitForSSH waits until the server at address greets with an SSH banner, or the
// process exits.
func waitForSSH(address string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			banner, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(banner, "SSH-2.0-") {
				return nil
			}
			err = fmt.Errorf("no SSH banner: %q, %v", banner, rerr)
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("sshd exited: %v", werr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}
