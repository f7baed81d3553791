package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/plugins/memory"
	"github.com/gonbd/gonbd/server"
)

// scriptPlugin stands for a plugin whose magic key is a script, like nbdkit's sh
// plugin, to test the magic parameter and shebang rules with.
type scriptPlugin struct{ script string }

func (p *scriptPlugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return nil, errors.New("not for serving")
}
func (p *scriptPlugin) ThreadModel() server.ThreadModel    { return server.SerializeRequests }
func (p *scriptPlugin) GetReady(ctx context.Context) error { return nil }

var scriptSpec = server.PluginSpec{
	Name:           "sh",
	Version:        "v9.9.9",
	Description:    "a test plugin with a magic script key",
	MagicConfigKey: "script",
	ConfigHelp:     "script=PATH  (required) The script.\nmode=fast|slow  How.",
	New: func(p *server.Params) (server.Plugin, error) {
		script, err := p.Required("script")
		if err != nil {
			return nil, err
		}
		p.Lookup("mode")
		return &scriptPlugin{script}, nil
	},
}

// keyFilter stands for a filter with a parameter, to test how parameters flow.
var keyFilter = server.FilterSpec{
	Name:        "offset",
	Version:     "v0.0.1",
	Description: "a test filter",
	ConfigHelp:  "offset=SIZE  Where to start.",
	New: func(p *server.Params, next server.Layer) (server.Layer, error) {
		if _, err := p.Size("offset", 0); err != nil {
			return nil, err
		}
		return server.PassThrough{Next: next}, nil
	},
}

func testLinked() linked {
	return linked{
		plugins: []server.PluginSpec{memory.Spec(), scriptSpec},
		filters: []server.FilterSpec{keyFilter},
	}
}

// runInProcess runs the command line args with the test plugins and returns its exit
// status and output.
func runInProcess(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := &command{stdout: &out, stderr: &errOut, env: []string{"PATH=/usr/bin:/bin"}, linked: testLinked(), parentPID: os.Getppid()}
	status = cmd.run(context.Background(), args)
	return status, out.String(), errOut.String()
}

func TestErrorsExitOne(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-f", "memory", "size=banana"}, "gonbd: memory: size=banana: could not parse size \"banana\"\n"},
		{[]string{"-f", "memory", "banana"}, "gonbd: memory: size=banana: could not parse size \"banana\"\n"},
		{[]string{"-f", "memory", "1M", "colour=blue"}, "gonbd: memory: unknown parameter colour (gonbd memory --help lists them)\n"},
		{[]string{"-f", "memory", "1M", "a=1", "b=2"}, "gonbd: memory: unknown parameters a, b (gonbd memory --help lists them)\n"},
		{[]string{"-f"}, "gonbd: no plugin given on the command line\nTry 'gonbd --help' for more information.\n"},
		{[]string{"--bogus", "memory"}, "gonbd: unrecognized option '--bogus'\nTry 'gonbd --help' for more information.\n"},
		{[]string{"nosuch"}, "gonbd: unknown plugin \"nosuch\" (linked plugins: memory, sh)\n"},
		{[]string{"--filter=nosuch", "memory", "1M"}, "gonbd: unknown filter \"nosuch\" (linked filters: offset)\n"},
		{[]string{"-f", "--filter=offset", "memory", "1M", "offset=x"}, "gonbd: offset: offset=x: could not parse size \"x\"\n"},
		{[]string{"-f", "--tls=require", "--tls-certificates=/nonexistent", "memory", "1M"}, "gonbd: --tls=require, but the TLS certificates could not be loaded: " +
			"TLS certificates in /nonexistent: open /nonexistent/server-cert.pem: no such file or directory (set --tls-certificates=DIR; see docs/security.md)\n"},
		{[]string{"-f", "--tls-psk=keys", "memory", "1M"}, "gonbd: " + errPSK.Error() + "\n"},
		{[]string{"-f", "--selinux-label=x", "memory", "1M"}, "gonbd: --selinux-label: SELinux socket labels are not supported\n"},
		{[]string{"-s", "--run=true", "memory", "1M"}, "gonbd: -s serves standard input and cannot be used with --run, -U, -p, -i or --vsock\nTry 'gonbd --help' for more information.\n"},
		{[]string{"-U", "s", "-p", "1", "memory", "1M"}, "gonbd: -U cannot be used with -p, -i or --vsock\nTry 'gonbd --help' for more information.\n"},
		{[]string{"-f", "-u", "no-such-user-gonbd", "memory", "1M"}, "gonbd: -u no-such-user-gonbd: user: unknown user no-such-user-gonbd\n"},
		{[]string{"-f", "-g", "no-such-group-gonbd", "memory", "1M"}, "gonbd: -g no-such-group-gonbd: group: unknown group no-such-group-gonbd\n"},
		{[]string{"--completion=zsh"}, "gonbd: --completion: unknown shell \"zsh\" (supported: bash)\nTry 'gonbd --help' for more information.\n"},
	} {
		status, _, stderr := runInProcess(t, tc.args...)
		if status != 1 || stderr != tc.stderr {
			t.Errorf("gonbd %s: status %d, stderr %q; want 1, %q", strings.Join(tc.args, " "), status, stderr, tc.stderr)
		}
	}
}

func TestTLSOffIsFine(t *testing.T) {
	c, _, err := parseCommandLine([]string{"--tls=off"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.check(false); err != nil {
		t.Errorf("--tls=off refused: %v", err)
	}
}

func TestMagicParameter(t *testing.T) {
	l := testLinked()
	for _, tc := range []struct {
		operands []string
		want     []server.Param
		err      string
	}{
		{[]string{"memory", "1G"}, []server.Param{{Key: "size", Value: "1G"}}, ""},
		{[]string{"memory", "size=1G", "allocator=malloc"}, []server.Param{{Key: "size", Value: "1G"}, {Key: "allocator", Value: "malloc"}}, ""},
		// Not a key before '=': the whole is a value for the magic key.
		{[]string{"sh", "./a=b"}, []server.Param{{Key: "script", Value: "./a=b"}}, ""},
		{[]string{"sh", "/x/y.sh", "mode=fast", "-"}, []server.Param{{Key: "script", Value: "/x/y.sh"}, {Key: "mode", Value: "fast"}, {Key: "script", Value: "-"}}, ""},
		{[]string{"sh", "key.with-dots_1=v"}, []server.Param{{Key: "key.with-dots_1", Value: "v"}}, ""},
		{[]string{"sh", "1key=v"}, []server.Param{{Key: "script", Value: "1key=v"}}, ""},
	} {
		_, params, err := pluginArgs(l, tc.operands)
		if err != nil || !slices.Equal(params, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.operands, params, err, tc.want)
		}
	}
	noMagic := linked{plugins: []server.PluginSpec{{Name: "plain"}}}
	_, _, err := pluginArgs(noMagic, []string{"plain", "value"})
	if err == nil || err.Error() != `plain: expecting key=value on the command line but got "value" (the plugin has no magic parameter)` {
		t.Errorf("bare value without a magic key: %v", err)
	}
}

// TestShebang runs the command line the kernel makes of a script starting with
// "#!/usr/bin/env -S gonbd sh" executed as `./script -r --dump-plugin`: the script's
// path becomes the plugin's magic parameter and the script's arguments are options.
func TestShebang(t *testing.T) {
	script := filepath.Join(t.TempDir(), "disk.sh")
	if err := os.WriteFile(script, []byte("#!/usr/bin/env -S gonbd sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, operands, err := parseCommandLine([]string{"sh", script, "-r", "mode=slow"})
	if err != nil {
		t.Fatal(err)
	}
	spec, params, err := pluginArgs(testLinked(), operands)
	if err != nil {
		t.Fatal(err)
	}
	if !c.opts.ReadOnly || spec.Name != "sh" || !slices.Equal(params, []server.Param{{Key: "script", Value: script}, {Key: "mode", Value: "slow"}}) {
		t.Errorf("readonly %v, plugin %s, params %v", c.opts.ReadOnly, spec.Name, params)
	}
	top, err := server.NewStack(spec, nil, params, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if top.Name() != "sh" {
		t.Errorf("stack %s, want the sh plugin", top.Name())
	}
}

func TestBuildStackParamsFlow(t *testing.T) {
	l := testLinked()
	// The filter takes offset=; the plugin never sees it, and must not complain.
	top, err := server.NewStack(scriptSpec, l.filters, []server.Param{{Key: "script", Value: "x"}, {Key: "offset", Value: "1k"}}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if top.ThreadModel() != server.SerializeRequests {
		t.Errorf("the filter does not reach the plugin: thread model %v", top.ThreadModel())
	}
	// Two filters in a row, the first closest to the client.
	top, err = server.NewStack(scriptSpec, []server.FilterSpec{keyFilter, keyFilter}, []server.Param{{Key: "script", Value: "x"}}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := top.GetReady(context.Background()); err != nil {
		t.Errorf("GetReady through two filters: %v", err)
	}
}

func TestHelp(t *testing.T) {
	status, out, _ := runInProcess(t, "--help")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{"Usage:", "gonbd [OPTIONS] PLUGIN", "-U, --unix=SOCKET", "--tls=off|on|require",
		"-r, --readonly, --read-only", "memory", "RAM disk", "sh ", "offset", "a test filter"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	status, out, _ = runInProcess(t, "--filter=offset", "memory", "--help")
	if status != 0 || !strings.Contains(out, "plugin: memory") || !strings.Contains(out, "size=<SIZE>") ||
		!strings.Contains(out, "filter: offset") || !strings.Contains(out, "offset=SIZE") {
		t.Errorf("memory --help: %d\n%s", status, out)
	}
}

func TestVersion(t *testing.T) {
	if status, out, _ := runInProcess(t, "--version"); status != 0 || out != "gonbd devel\n" {
		t.Errorf("--version: %d %q", status, out)
	}
	if status, out, _ := runInProcess(t, "-V", "--filter=offset", "sh"); status != 0 || out != "gonbd devel\nsh v9.9.9\noffset v0.0.1\n" {
		t.Errorf("sh --version: %d %q", status, out)
	}
}

func TestDumpConfig(t *testing.T) {
	status, out, _ := runInProcess(t, "--dump-config")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q is not key=value", line)
		}
		keys[k] = v
	}
	for k, want := range map[string]string{"name": "gonbd", "version": "devel", "plugins": "memory sh",
		"filters": "offset", "tls": "yes", "tls_psk": "no", "root_tls_certificates_dir": "/etc/pki/nbdkit", "version_major": "0", "version_minor": "0",
		"exit_with_parent": yesNo(exitWithParentSupported)} {
		if keys[k] != want {
			t.Errorf("%s=%q, want %q", k, keys[k], want)
		}
	}
	for _, k := range []string{"binary", "host_cpu", "host_os"} {
		if keys[k] == "" {
			t.Errorf("no %s=", k)
		}
	}
}

func TestDumpPlugin(t *testing.T) {
	status, out, _ := runInProcess(t, "sh", "/x.sh", "--dump-plugin")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{"name=sh\n", "version=v9.9.9\n", "api_version=2\n", "magic_config_key=script\n",
		"thread_model=serialize_requests\n", "has_get_ready=1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--dump-plugin lacks %q:\n%s", want, out)
		}
	}
	// Without the parameters New needs, what the spec says is still there.
	status, out, _ = runInProcess(t, "memory", "--dump-plugin")
	if status != 0 || !strings.Contains(out, "name=memory\n") || strings.Contains(out, "thread_model=") {
		t.Errorf("memory --dump-plugin without size: %d\n%s", status, out)
	}
	status, out, _ = runInProcess(t, "memory", "1M", "--dump-plugin")
	if status != 0 || !strings.Contains(out, "thread_model=parallel\n") || !strings.Contains(out, "has_dump_plugin=1\n") ||
		!strings.Contains(out, "mlock=") {
		t.Errorf("memory 1M --dump-plugin: %d\n%s", status, out)
	}
}

func TestVersionNumbers(t *testing.T) {
	for v, want := range map[string][2]string{"v1.2.3": {"1", "2"}, "v0.10.0-rc1": {"0", "10"}, "devel": {"0", "0"}, "v1": {"0", "0"}} {
		if major, minor := versionNumbers(v); major != want[0] || minor != want[1] {
			t.Errorf("versionNumbers(%s) = %s, %s", v, major, minor)
		}
	}
}

func TestNBDURI(t *testing.T) {
	for _, tc := range []struct{ scheme, host, export, socket, want string }{
		{"nbd+unix", "", "", "/tmp/x/socket", "nbd+unix://?socket=/tmp/x/socket"},
		{"nbd+unix", "", "a b/c", "/tmp/a&b", "nbd+unix:///a%20b/c?socket=/tmp/a%26b"},
		{"nbd", "localhost:10809", "", "", "nbd://localhost:10809"},
		{"nbd", "[::1]:10809", "disk", "", "nbd://[::1]:10809/disk"},
		{"nbd+vsock", "1:10809", "", "", "nbd+vsock://1:10809"},
	} {
		if got := nbdURI(tc.scheme, tc.host, tc.export, tc.socket); got != tc.want {
			t.Errorf("nbdURI(%q, %q, %q, %q) = %q, want %q", tc.scheme, tc.host, tc.export, tc.socket, got, tc.want)
		}
	}
}

func TestCaptiveEnv(t *testing.T) {
	c := &config{exportName: "disk", tls: "require"}
	env := captiveEnv([]string{"HOME=/root"}, endpoint{uri: "nbd://localhost:1/disk", port: "1"}, c)
	for _, want := range []string{"HOME=/root", "uri=nbd://localhost:1/disk", "nbd=nbd://localhost:1/disk", "port=1",
		"unixsocket=", "exportname=disk", "tls=2"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s: %q", want, env)
		}
	}
}

func TestCompletion(t *testing.T) {
	status, script, _ := runInProcess(t, "--completion=bash")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{"complete -F _gonbd gonbd", "--readonly", "--tls-certificates", "plugin:memory) echo 'size= allocator='",
		"plugin:sh) echo 'script= mode='", "filter:offset) echo 'offset='"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to check the script with")
	}
	path := filepath.Join(t.TempDir(), "gonbd.bash")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	// Complete a few command lines as bash would, COMP_WORDBREAKS splitting at '='.
	for words, want := range map[string]string{
		"gonbd ''":                       "memory sh",
		"gonbd --tl":                     "--tls --tls-certificates --tls-psk --tls-verify-peer",
		"gonbd --tls = r":                "require",
		"gonbd --filter = ''":            "offset",
		"gonbd -fp 10809 memory al":      "allocator=",
		"gonbd --filter = offset sh mo":  "mode=",
		"gonbd --filter = offset sh off": "offset=",
		"gonbd -U /tmp/s --log = nu":     "null",
	} {
		probe := "source " + path + "\nCOMP_WORDS=(" + words + ")\nCOMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n_gonbd\necho \"${COMPREPLY[*]}\"\n"
		cmd := exec.Command(bash, "-c", probe)
		cmd.Dir = t.TempDir() // no files to complete
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("completing %s: %q, %v; want %q", words, got, err, want)
		}
	}
}

func TestHelpKeys(t *testing.T) {
	got := helpKeys("size=<SIZE>  (required) Size.\n  allocator=sparse|malloc  How.\nnot a key\n=x\n")
	if !slices.Equal(got, []string{"size=", "allocator="}) {
		t.Errorf("helpKeys = %q", got)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
