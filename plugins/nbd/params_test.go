package nbd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestBadParameters(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	halfPair := filepath.Join(dir, "half")
	if err := os.Mkdir(halfPair, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(halfPair, "client-cert.pem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badCA := filepath.Join(dir, "badca")
	if err := os.Mkdir(badCA, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badCA, "ca-cert.pem"), []byte("not PEM"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		params []string
		want   []string // each must be in the error
	}{
		{nil, []string{"no NBD server", "uri=", "socket="}},
		{[]string{"export=foo"}, []string{"no NBD server"}},
		{[]string{"socket=/a", "hostname=b"}, []string{"socket= and hostname=", "only one"}},
		{[]string{"uri=nbd://a", "command=qemu-nbd"}, []string{"uri= and command="}},
		{[]string{"socket=/a", "port=10809"}, []string{"port=10809", "hostname="}},
		{[]string{"socket=/a", "arg=-f"}, []string{"arg=-f", "command="}},
		{[]string{"uri=http://example.com/"}, []string{"http", "scheme"}},
		{[]string{"uri=nbd+unix:///disk"}, []string{"socket parameter"}},
		{[]string{"uri=nbd+vsock://2/disk"}, []string{"vsock"}},
		{[]string{"vsock=2"}, []string{"vsock", "not supported"}},
		{[]string{"socket=/a", "retry=-1"}, []string{"retry=-1", "negative"}},
		{[]string{"socket=/a", "retry=many"}, []string{"retry=many"}},
		{[]string{"socket=/a", "shared=perhaps"}, []string{"shared=perhaps", "boolean"}},
		{[]string{"socket=/a", "dynamic-export=1", "export=x"}, []string{"dynamic-export", "export=x"}},
		{[]string{"socket=/a", "dynamic-export=1", "shared=1"}, []string{"dynamic-export", "shared=true"}},
		{[]string{"command=qemu-nbd", "dynamic-export=1"}, []string{"dynamic-export", "command="}},
		{[]string{"socket=/a", "tls=maybe"}, []string{"tls=maybe", "off, on or require"}},
		{[]string{"socket=/a", "tls-verify=sometimes"}, []string{"tls-verify=sometimes"}},
		{[]string{"socket=/a", "tls-psk=/keys.psk"}, []string{"pre-shared keys", "not supported"}},
		{[]string{"socket=/a", "tls-username=alice"}, []string{"pre-shared keys"}},
		{[]string{"uri=nbds+unix:///?socket=/a&tls-psk-file=/k"}, []string{"pre-shared keys"}},
		{[]string{"socket=/a", "tls-certificates=" + filepath.Join(dir, "absent")}, []string{"tls-certificates=", "no such file"}},
		{[]string{"socket=/a", "tls-certificates=" + notDir}, []string{"not a directory"}},
		{[]string{"socket=/a", "tls-certificates=" + halfPair}, []string{"client-cert.pem", "client-key.pem"}},
		{[]string{"socket=/a", "tls-certificates=" + badCA}, []string{"ca-cert.pem", "no PEM certificate"}},
		{[]string{"socket-fd=-3"}, []string{"socket-fd=-3", "negative"}},
		{[]string{"socket-fd=three"}, []string{"socket-fd=three"}},
		{[]string{"socket-fd=0"}, []string{"socket-fd=0", "socket"}}, // standard input is no socket
		{[]string{"socket=/a", "colour=blue"}, []string{"unknown parameter colour"}},
	} {
		_, err := servertest.Stack(Spec(), nil, tc.params...)
		if err == nil {
			t.Errorf("%q: accepted", tc.params)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not say %q", tc.params, err, want)
			}
		}
	}
}

func TestGoodParameters(t *testing.T) {
	for _, tc := range []struct {
		params []string
		check  func(*Plugin) string
	}{
		{[]string{"nbd://example.com/disk"}, func(p *Plugin) string {
			return expect(p.remote.String() == "tcp example.com:10809" && p.export == "disk", "tcp example.com:10809, export disk", p)
		}},
		{[]string{"hostname=::1", "port=nbd", "export=x"}, func(p *Plugin) string {
			return expect(p.remote.String() == "tcp [::1]:nbd" && p.export == "x", "tcp [::1]:nbd, export x", p)
		}},
		{[]string{"socket=/run/nbd.sock"}, func(p *Plugin) string {
			return expect(p.remote.String() == "unix /run/nbd.sock" && !p.opts.Shared && p.remote.tlsMode == TLSOff, "unix, not shared, no TLS", p)
		}},
		{[]string{"uri=nbds+unix:///d?socket=/s", "tls=off"}, func(p *Plugin) string {
			return expect(p.remote.tlsMode == TLSRequire, "an nbds URI requires TLS whatever tls= says", p)
		}},
		{[]string{"socket=/s", "tls-verify=false"}, func(p *Plugin) string {
			return expect(p.remote.tlsMode == TLSOn && p.remote.tlsConfig.InsecureSkipVerify, "tls=on by default with tls-verify=", p)
		}},
		{[]string{"socket=/s", "tls=force"}, func(p *Plugin) string {
			return expect(p.remote.tlsMode == TLSRequire, "force means require", p)
		}},
		{[]string{"command=qemu-nbd", "arg=-f", "arg=raw", "arg=/x", "shared=false"}, func(p *Plugin) string {
			return expect(p.opts.Shared && strings.Join(p.opts.Command, " ") == "qemu-nbd -f raw /x", "a shared qemu-nbd -f raw /x", p)
		}},
		{[]string{"socket=/s", "retry=7", "shared=yes", "dynamic-export=no"}, func(p *Plugin) string {
			return expect(p.opts.Retry == 7 && p.opts.Shared, "7 retries, shared", p)
		}},
	} {
		layer, err := servertest.Stack(Spec(), nil, tc.params...)
		if err != nil {
			t.Errorf("%q: %v", tc.params, err)
			continue
		}
		p, err := New(mustOptions(t, tc.params...))
		if err != nil {
			t.Fatal(err)
		}
		if msg := tc.check(p); msg != "" {
			t.Errorf("%q: %s", tc.params, msg)
		}
		layer.Cleanup(testContext(t))
	}
}

// mustOptions reads params as the plugin's Spec does.
func mustOptions(t *testing.T, params ...string) Options {
	t.Helper()
	var captured Options
	spec := Spec()
	spec.New = func(p *server.Params) (server.Plugin, error) {
		opts, err := optionsFromParams(p)
		captured = opts
		return &Plugin{}, err
	}
	if _, err := servertest.Stack(spec, nil, params...); err != nil {
		t.Fatal(err)
	}
	return captured
}

func expect(ok bool, want string, p *Plugin) string {
	if ok {
		return ""
	}
	return fmt.Sprintf("want %s; got remote %v, export %q, options %+v, TLS %v", want, p.remote, p.export, p.opts, p.remote.tlsMode)
}

func TestParseTLSMode(t *testing.T) {
	for in, want := range map[string]TLSMode{
		"off": TLSOff, "false": TLSOff, "0": TLSOff, "on": TLSOn, "yes": TLSOn, "1": TLSOn,
		"require": TLSRequire, "required": TLSRequire, "force": TLSRequire,
	} {
		if got, err := ParseTLSMode(in); got != want || err != nil {
			t.Errorf("ParseTLSMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTLSMode("Require!"); err == nil {
		t.Error("ParseTLSMode accepted Require!")
	}
}
