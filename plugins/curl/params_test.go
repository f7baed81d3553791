package curl

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func paramsOf(pairs ...string) *server.Params {
	var list []server.Param
	for _, pair := range pairs {
		key, value, _ := strings.Cut(pair, "=")
		list = append(list, server.Param{Key: key, Value: value})
	}
	return server.NewParams(list, nil)
}

// noTerminal is a secretReader whose standard input is not a terminal.
func noTerminal(t *testing.T) secretReader {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return secretReader{stdin: r, prompt: io.Discard}
}

func TestParameters(t *testing.T) {
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passwordFile, []byte("from a file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const url = "https://example.com/disk.img"
	tests := []struct {
		params []string
		want   Options
	}{
		{[]string{"url=" + url}, Options{URL: url, Connections: 4}},
		{[]string{"url=" + url, "user=alice", "password=secret", "user-agent=ua/1", "header=X-A: 1", "header=X-B;", "cookie=a=b"},
			Options{URL: url, Connections: 4, User: "alice", Password: "secret", UserAgent: "ua/1", Headers: []string{"X-A: 1", "X-B;"}, Cookie: "a=b"}},
		{[]string{"url=" + url, "user=alice", "password=+" + passwordFile, "proxy-password=+" + passwordFile, "cookie=+" + passwordFile},
			Options{URL: url, Connections: 4, User: "alice", Password: "from a file", ProxyPassword: "from a file", Cookie: "from a file"}},
		{[]string{"url=" + url, "header-script=echo X-A: 1", "header-script-renew=50", "cookie-script=echo a=b", "cookie-script-renew=0x10"},
			Options{URL: url, Connections: 4, HeaderScript: "echo X-A: 1", HeaderScriptRenew: 50 * time.Second, CookieScript: "echo a=b", CookieScriptRenew: 16 * time.Second}},
		{[]string{"url=" + url, "cookiefile="}, Options{URL: url, Connections: 4, CookieEngine: true}},
		{[]string{"url=" + url, "cookiefile=/c.txt"}, Options{URL: url, Connections: 4, CookieEngine: true, CookieFile: "/c.txt"}},
		{[]string{"url=" + url, "cainfo=/ca.pem", "capath=/etc/ssl/certs", "sslverify=false", "ssl-version=tlsv1.3"},
			Options{URL: url, Connections: 4, CAFile: "/ca.pem", CAPath: "/etc/ssl/certs", InsecureSkipVerify: true, MinTLSVersion: tls.VersionTLS13}},
		{[]string{"url=" + url, "cainfo=", "sslverify=true"}, Options{URL: url, Connections: 4, NoSystemCAs: true}},
		{[]string{"url=" + url, "ssl-cipher-list=ECDHE-RSA-AES128-GCM-SHA256"},
			Options{URL: url, Connections: 4, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}},
		{[]string{"url=" + url, "followlocation=false", "protocols=https,HTTP"},
			Options{URL: url, Connections: 4, NoFollowRedirects: true, Protocols: []string{"https", "HTTP"}}},
		{[]string{"url=" + url, "proxy=proxy:3128", "proxy-user=bob", "proxy-password=pw"},
			Options{URL: url, Connections: 4, Proxy: "proxy:3128", ProxyUser: "bob", ProxyPassword: "pw"}},
		{[]string{"url=" + url, "proxy="}, Options{URL: url, Connections: 4, NoProxy: true}},
		{[]string{"url=" + url, "unix-socket-path=/run/http.sock", "connections=16", "timeout=30"},
			Options{URL: url, UnixSocketPath: "/run/http.sock", Connections: 16, Timeout: 30 * time.Second}},
		{[]string{"url=" + url, "tcp-keepalive=true", "tcp-nodelay=false"}, Options{URL: url, Connections: 4, TCPKeepAlive: time.Minute, Nagle: true}},
		{[]string{"url=" + url, "tcp-keepalive=false", "tcp-nodelay=true"}, Options{URL: url, Connections: 4, TCPKeepAlive: -1}},
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		got, err := optionsFromParams(p, noTerminal(t))
		if err != nil {
			t.Errorf("%q: %v", tt.params, err)
			continue
		}
		got.Logger = nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\ngot  %+v\nwant %+v", tt.params, got, tt.want)
		}
		if unused := p.Unused(); len(unused) > 0 {
			t.Errorf("%q: parameters left unused: %v", tt.params, unused)
		}
	}
}

func TestBadParameters(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		params []string
		want   []string // each in the error
	}{
		{nil, []string{"missing required parameter url"}},
		{[]string{"url=ftp://example.com/disk.img"}, []string{"url=ftp://example.com/disk.img", "HTTP and HTTPS only, not ftp"}},
		{[]string{"url=file:///var/disk.img"}, []string{"file plugin"}},
		{[]string{"url=sftp://host/disk.img"}, []string{"ssh plugin"}},
		{[]string{"url=/var/disk.img"}, []string{"not an absolute URL"}},
		{[]string{"url=http:///disk.img"}, []string{"names no host"}},
		{[]string{"url=http://alice:hunter2@example.com/%zz"}, []string{"url=http://alice:xxxxx@example.com/%zz", "invalid URL escape"}},
		{[]string{"url=https://example.com/", "protocols=http"}, []string{"https protocol is not allowed by protocols=http"}},
		{[]string{"url=https://example.com/", "protocols=https,gopher2"}, []string{"protocols=https,gopher2", `unknown protocol "gopher2"`}},
		{[]string{"url=https://example.com/", "protocols="}, []string{"protocols= is empty"}},
		{[]string{"url=https://example.com/", "password=secret"}, []string{"password= needs a user name"}},
		{[]string{"url=https://example.com/", "user=a", "password=-"}, []string{"password=-", "not a terminal", "+FILE or -FD"}},
		{[]string{"url=https://example.com/", "user=a", "password=+" + filepath.Join(dir, "none")}, []string{"password=+", "no such file"}},
		{[]string{"url=https://example.com/", "user=a", "password=-0"}, []string{"password=-0", "standard input"}},
		{[]string{"url=https://example.com/", "user=a", "password=-x"}, []string{"password=-x", "file descriptor"}},
		{[]string{"url=https://example.com/", "cookie=-"}, []string{"cookie=-", "not a terminal"}},
		{[]string{"url=https://example.com/", "header=X-A: 1", "header-script=echo"}, []string{"header-script= and header= cannot be used together"}},
		{[]string{"url=https://example.com/", "cookie=a=b", "cookie-script=echo"}, []string{"cookie-script= and cookie= cannot be used together"}},
		{[]string{"url=https://example.com/", "header=NoColon"}, []string{`header "NoColon"`, "Name: value"}},
		{[]string{"url=https://example.com/", "header=Bad Name: x"}, []string{`"Bad Name" is not a valid header name`}},
		{[]string{"url=https://example.com/", "header=Range: bytes=0-1"}, []string{"the plugin sets Range itself"}},
		{[]string{"url=https://example.com/", "header=Host:"}, []string{"requires the Host header"}},
		{[]string{"url=https://example.com/", "header-script-renew=-1"}, []string{"header-script-renew=-1", "cannot be negative"}},
		{[]string{"url=https://example.com/", "timeout=soon"}, []string{"timeout=soon"}},
		{[]string{"url=https://example.com/", "connections=0"}, []string{"connections=0", "from 1 to 1024"}},
		{[]string{"url=https://example.com/", "connections=many"}, []string{"connections=many"}},
		{[]string{"url=https://example.com/", "sslverify=maybe"}, []string{"sslverify=maybe"}},
		{[]string{"url=https://example.com/", "followlocation=perhaps"}, []string{"followlocation=perhaps"}},
		{[]string{"url=https://example.com/", "tcp-keepalive=often"}, []string{"tcp-keepalive=often"}},
		{[]string{"url=https://example.com/", "ssl-version=sslv3"}, []string{"ssl-version=sslv3", "no SSL"}},
		{[]string{"url=https://example.com/", "ssl-cipher-list=HIGH:!aNULL"}, []string{"ssl-cipher-list=HIGH:!aNULL", `"HIGH"`}},
		{[]string{"url=https://example.com/", "tls13-ciphers=TLS_AES_128_GCM_SHA256"}, []string{"tls13-ciphers=TLS_AES_128_GCM_SHA256 is not supported", "crypto/tls"}},
		{[]string{"url=https://example.com/", "cookiejar=/tmp/jar"}, []string{"cookiejar=/tmp/jar is not supported", "cookiefile="}},
		{[]string{"url=https://example.com/", "cookiefile=" + filepath.Join(dir, "none")}, []string{"cookiefile=", "no such file"}},
		{[]string{"url=https://example.com/", "cainfo=" + filepath.Join(dir, "none")}, []string{"cainfo=", "no such file"}},
		{[]string{"url=https://example.com/", "capath=" + filepath.Join(dir, "none")}, []string{"capath=", "no such file"}},
		{[]string{"url=https://example.com/", "proxy=socks4://proxy:1080"}, []string{"proxy=socks4://proxy:1080", "socks4 proxies are not supported"}},
		{[]string{"url=https://example.com/", "proxy=http://bob:pw@proxy:%zz"}, []string{"proxy=http://bob:xxxxx@proxy:%zz"}},
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		opts, err := optionsFromParams(p, noTerminal(t))
		if err == nil {
			var plugin *Plugin
			if plugin, err = New(opts); err == nil {
				plugin.Cleanup(t.Context())
				t.Errorf("%q: accepted, want an error", tt.params)
				continue
			}
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not mention %q", tt.params, err, want)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error %q shows the password", tt.params, err)
		}
	}
}

// TestBadParametersThroughStack checks the messages as the command line shows them.
func TestBadParametersThroughStack(t *testing.T) {
	if _, err := servertest.Stack(Spec(), nil, "https://example.com/", "connections=banana"); err == nil ||
		!strings.Contains(err.Error(), "curl: connections=banana") {
		t.Errorf("connections=banana: %v", err)
	}
	if _, err := servertest.Stack(Spec(), nil, "https://example.com/", "resolve=example.com:443:127.0.0.1"); err == nil ||
		!strings.Contains(err.Error(), "unknown parameter resolve") {
		t.Errorf("an unknown parameter: %v", err)
	}
}

func TestSpecDescribesThePlugin(t *testing.T) {
	spec := Spec()
	if spec.Name != "curl" || spec.MagicConfigKey != "url" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	for _, key := range []string{
		"url=", "user=", "password=", "header=", "header-script=", "header-script-renew=",
		"cookie=", "cookie-script=", "cookie-script-renew=", "cookiefile=", "user-agent=",
		"cainfo=", "capath=", "sslverify=", "ssl-version=", "ssl-cipher-list=",
		"followlocation=", "protocols=", "proxy=", "proxy-user=", "proxy-password=",
		"unix-socket-path=", "connections=", "timeout=", "tcp-keepalive=", "tcp-nodelay=",
	} {
		if !strings.Contains(spec.ConfigHelp, key) {
			t.Errorf("config help does not describe %s", key)
		}
	}
}
