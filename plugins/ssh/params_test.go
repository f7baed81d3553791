package ssh

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestBadParameters checks that each mistake is refused with a message naming the
// parameter and saying what is wrong, before anything connects.
func TestBadParameters(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	encrypted, _ := filepath.Abs("testdata/id_ed25519_encrypted")
	notAKey := filepath.Join(dir, "not_a_key")
	writeFile(t, notAKey, "hello\n")
	host := "host=ssh.invalid"
	tests := []struct {
		params []string
		want   string
	}{
		{[]string{"disk.img"}, "missing required parameter host"},
		{[]string{host}, "missing required parameter path: name the remote file"},
		{[]string{host, "disk.img", "compression=true"}, "compression=true: not supported"},
		{[]string{host, "disk.img", "compression=maybe"}, `compression=maybe: could not parse boolean "maybe"`},
		{[]string{host, "disk.img", "config=/etc/ssh/ssh_config"}, "config=/etc/ssh/ssh_config: reading ssh_config files is not supported"},
		{[]string{host, "disk.img", "create=true"}, "create=true needs create-size="},
		{[]string{host, "disk.img", "create=true", "create-size=banana"}, `create-size=banana: could not parse size "banana"`},
		{[]string{host, "disk.img", "create=true", "create-size=1M", "create-mode=01000"}, "create-mode=01000: not permission bits"},
		{[]string{host, "disk.img", "create=true", "create-size=1M", "create-mode=rw"}, `create-mode=rw: could not parse number "rw"`},
		{[]string{host, "disk.img", "create=yes please"}, `create=yes please: could not parse boolean`},
		{[]string{host, "disk.img", "verify-remote-host=sometimes"}, "verify-remote-host=sometimes: could not parse boolean"},
		{[]string{host, "disk.img", "timeout=soon"}, `timeout=soon: could not parse number "soon"`},
		{[]string{host, "disk.img", "timeout=-1"}, `timeout=-1: number "-1" is negative`},
		{[]string{host, "disk.img", "port=no-such-service"}, "port=no-such-service: not a port number or a known service name"},
		{[]string{host, "disk.img", "identity=" + dir + "/missing"}, "identity=" + dir + "/missing: no such file or directory"},
		{[]string{host, "disk.img", "identity=" + notAKey}, "identity=" + notAKey + ": not a private key"},
		{[]string{host, "disk.img", "identity=" + encrypted}, "identity=" + encrypted + ": the key is encrypted with a passphrase"},
		{[]string{host, "disk.img", "identity=%q/x"}, "identity=%q/x: unknown sequence %q"},
		{[]string{host, "disk.img", "identity=/x%"}, "identity=/x%: a % ends the name"},
		{[]string{host, "disk.img", "known-hosts=" + dir + "/missing"}, "known-hosts=" + dir + "/missing: no such file or directory"},
		{[]string{host, "disk.img", "password=+" + dir + "/missing"}, "password=+" + dir + "/missing: open " + dir + "/missing: no such file or directory"},
		{[]string{host, "disk.img", "password=-0"}, "password=-0: standard input, output and error cannot hold the password"},
		{[]string{host, "disk.img", "password=-x"}, `password=-x: not a file descriptor`},
		{[]string{host, "disk.img", "colour=blue"}, "unknown parameter colour"},
	}
	for _, tt := range tests {
		_, err := servertest.Stack(Spec(), nil, tt.params...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("gonbd ssh %s: %v\nwant an error saying %q", strings.Join(tt.params, " "), err, tt.want)
		}
	}
}

func TestParameters(t *testing.T) {
	isolate(t)
	home, _ := os.UserHomeDir()
	user := currentUser(t)
	local, _ := os.Hostname()
	passwordFile := filepath.Join(t.TempDir(), "password")
	writeFile(t, passwordFile, "from a file\n")
	p := server.NewParams([]server.Param{
		{Key: "host", Value: "example.com"}, {Key: "path", Value: "images/disk.img"},
		{Key: "port", Value: "ssh"}, {Key: "user", Value: "bob"},
		{Key: "password", Value: "+" + passwordFile},
		{Key: "identity", Value: "%d/id_%r@%h"}, {Key: "identity", Value: "~/keys/%u.%l.%p%%"},
		{Key: "known-hosts", Value: "/etc/hosts.%h"},
		{Key: "verify-remote-host", Value: "false"},
		{Key: "create", Value: "on"}, {Key: "create-size", Value: "2G"}, {Key: "create-mode", Value: "0644"},
		{Key: "timeout", Value: "30"}, {Key: "compression", Value: "false"}, {Key: "config", Value: ""},
	}, nil)
	opts, err := optionsFromParams(p)
	if err != nil {
		t.Fatal(err)
	}
	if unused := p.Unused(); len(unused) != 0 {
		t.Errorf("parameters left unused: %v", unused)
	}
	want := Options{
		Host: "example.com", Path: "images/disk.img", Port: "ssh", User: "bob", Password: "from a file",
		Identities: []string{home + "/.ssh/id_bob@example.com", home + "/keys/" + user + "." + local + ".ssh%"},
		KnownHosts: []string{"/etc/hosts.example.com"}, InsecureIgnoreHostKey: true,
		Create: true, CreateSize: 2 << 30, CreateMode: 0o644, Timeout: 30 * time.Second,
	}
	opts.Logger = nil
	if got, want := fmtOptions(opts), fmtOptions(want); got != want {
		t.Errorf("options:\n got %s\nwant %s", got, want)
	}
	// C's syntax, as nbdkit: without a leading 0 the mode is decimal.
	p = server.NewParams([]server.Param{{Key: "host", Value: "h"}, {Key: "path", Value: "p"},
		{Key: "create", Value: "1"}, {Key: "create-size", Value: "1"}, {Key: "create-mode", Value: "420"}}, nil)
	if opts, err := optionsFromParams(p); err != nil || opts.CreateMode != 0o644 {
		t.Errorf("create-mode=420: %v, %v, want 0644", opts.CreateMode, err)
	}
}

// fmtOptions prints the fields of Options that parameters set.
func fmtOptions(o Options) string {
	return strings.Join([]string{o.Host, o.Path, o.Port, o.User, o.Password,
		strings.Join(o.Identities, ","), strings.Join(o.KnownHosts, ","),
		strconv.FormatBool(o.InsecureIgnoreHostKey), strconv.FormatBool(o.Create),
		strconv.FormatInt(o.CreateSize, 10), o.CreateMode.String(), o.Timeout.String()}, "|")
}

func TestOptionsDefaults(t *testing.T) {
	isolate(t)
	opts, err := Options{Host: "h", Path: "p", Create: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Port != "22" || opts.User != currentUser(t) || opts.CreateMode != 0o600 || opts.Logger == nil {
		t.Errorf("defaults: port %q, user %q, create mode %v", opts.Port, opts.User, opts.CreateMode)
	}
	t.Setenv("SSH_AUTH_SOCK", "/run/agent.sock")
	if opts, _ := (Options{Host: "h", Path: "p"}).withDefaults(); opts.AgentSocket != "/run/agent.sock" {
		t.Errorf("the agent socket is %q, want $SSH_AUTH_SOCK", opts.AgentSocket)
	}
	if opts, _ := (Options{Host: "h", Path: "p", NoAgent: true}).withDefaults(); opts.AgentSocket != "" {
		t.Errorf("NoAgent keeps the agent socket %q", opts.AgentSocket)
	}
	for _, bad := range []Options{{Path: "p"}, {Host: "h"}, {Host: "h", Path: "p", Timeout: -time.Second},
		{Host: "h", Path: "p", Create: true, CreateSize: -1}, {Host: "h", Path: "p", Create: true, CreateMode: fs.ModeSetuid | 0o755}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

func TestReadPassword(t *testing.T) {
	if got, err := readPassword("plain"); err != nil || got != "plain" {
		t.Errorf("a literal password: %q, %v", got, err)
	}
	file := filepath.Join(t.TempDir(), "pw")
	writeFile(t, file, "two\nlines\n\n")
	if got, err := readPassword("+" + file); err != nil || got != "two\nlines\n" {
		t.Errorf("+FILE: %q, %v: want the contents less one final newline", got, err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString("through a pipe\n")
		w.Close()
	}()
	got, err := readPassword("-" + strconv.Itoa(int(r.Fd())))
	if err != nil || got != "through a pipe" {
		t.Errorf("-FD: %q, %v", got, err)
	}

	// A file is no terminal to type on.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var prompt strings.Builder
	if _, err := readSecretLine(devNull, &prompt, "password: "); err != errNotTerminal || prompt.Len() != 0 {
		t.Errorf("reading a password from %s: %v, prompt %q: want errNotTerminal and no prompt", os.DevNull, err, prompt.String())
	}
}
