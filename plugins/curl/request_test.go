package curl

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func TestHeadersAndCookieReachTheServer(t *testing.T) {
	data := randomBytes(t, 4096)
	log := &requestLog{}
	ts := newTestServer(t, log.wrap(serveObject(data)))
	_, h := mustOpen(t, Options{
		URL:       ts.URL,
		UserAgent: "gonbd-test/1",
		Cookie:    "session=abc; theme=dark",
		Headers:   []string{"X-Token: t0k3n", "X-Empty;", "X-Twice: 1", "X-Twice: 2", "Accept:"},
	})
	mustReadAt(t, h, data, 0, 4096)
	requests := log.all()
	if len(requests) < 2 {
		t.Fatalf("%d requests, want HEAD and GET", len(requests))
	}
	for _, r := range requests {
		check := func(name, got, want string) {
			if got != want {
				t.Errorf("%s: %s is %q, want %q", r.Method, name, got, want)
			}
		}
		check("User-Agent", r.UserAgent(), "gonbd-test/1")
		check("Cookie", r.Header.Get("Cookie"), "session=abc; theme=dark")
		check("X-Token", r.Header.Get("X-Token"), "t0k3n")
		check("X-Twice", strings.Join(r.Header.Values("X-Twice"), ","), "1,2")
		if v, ok := r.Header["X-Empty"]; !ok || len(v) != 1 || v[0] != "" {
			t.Errorf("%s: X-Empty is %q, want one empty value", r.Method, v)
		}
	}
}

func TestHeaderReplacesAndRemovesTheOwnOnes(t *testing.T) {
	log := &requestLog{}
	ts := newTestServer(t, log.wrap(serveObject(randomBytes(t, 100))))
	mustOpen(t, Options{
		URL:       ts.URL,
		UserAgent: "replaced",
		User:      "alice", Password: "secret",
		Headers: []string{"User-Agent: mine", "Authorization:", "Host: disk.example"},
	})
	for _, r := range log.all() {
		if r.UserAgent() != "mine" || r.Header.Get("Authorization") != "" || r.Host != "disk.example" {
			t.Errorf("%s: User-Agent %q, Authorization %q, Host %q; want mine, none, disk.example",
				r.Method, r.UserAgent(), r.Header.Get("Authorization"), r.Host)
		}
	}
}

func TestBasicAuthentication(t *testing.T) {
	data := randomBytes(t, 4096)
	object := serveObject(data)
	ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, password, ok := r.BasicAuth(); !ok || user != "alice" || password != "s3cret:x" {
			w.Header().Set("WWW-Authenticate", `Basic realm="disks"`)
			status(http.StatusUnauthorized)(w, r)
			return
		}
		object(w, r)
	}))
	_, h := mustOpen(t, Options{URL: ts.URL, User: "alice", Password: "s3cret:x"})
	mustReadAt(t, h, data, 10, 100)

	// In the URL.
	withUser := strings.Replace(ts.URL, "http://", "http://alice:s3cret%3Ax@", 1)
	_, h = mustOpen(t, Options{URL: withUser})
	mustReadAt(t, h, data, 10, 100)

	// password= overrides the URL's.
	_, _, err := openPlugin(t, Options{URL: withUser, Password: "wrong"})
	wantError(t, "opening with a wrong password", err, "401 Unauthorized")
	if !errors.Is(err, syscall.EACCES) || server.ErrnoOf(err) != protocol.EPERM {
		t.Errorf("error %v: want EACCES, EPERM on the wire", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestRedirects(t *testing.T) {
	data := randomBytes(t, 8192)
	mux := http.NewServeMux()
	mux.Handle("/disk.img", serveObject(data))
	mux.Handle("/old.img", http.RedirectHandler("/disk.img", http.StatusFound))
	mux.Handle("/loop", http.RedirectHandler("/loop", http.StatusMovedPermanently))
	ts := newTestServer(t, mux)
	mux.Handle("/elsewhere", http.RedirectHandler("https"+strings.TrimPrefix(ts.URL, "http")+"/disk.img", http.StatusTemporaryRedirect))
	mux.Handle("/ftp", http.RedirectHandler("ftp://example.com/disk.img", http.StatusTemporaryRedirect))

	_, h := mustOpen(t, Options{URL: ts.URL + "/old.img"})
	mustReadAt(t, h, data, 100, 8000)

	_, _, err := openPlugin(t, Options{URL: ts.URL + "/old.img", NoFollowRedirects: true})
	wantError(t, "followlocation=false", err, "/old.img redirects to", "/disk.img", "followlocation=false")

	_, _, err = openPlugin(t, Options{URL: ts.URL + "/loop"})
	wantError(t, "a redirect loop", err, "more than 10 redirects")

	_, _, err = openPlugin(t, Options{URL: ts.URL + "/elsewhere", Protocols: []string{"http"}})
	wantError(t, "a redirect to https with protocols=http", err, "protocol https is not allowed", "protocols=http")

	_, _, err = openPlugin(t, Options{URL: ts.URL + "/ftp", Protocols: []string{"http", "ftp"}})
	wantError(t, "a redirect to ftp", err, "HTTP and HTTPS only, not ftp")
}

func TestHeaderScript(t *testing.T) {
	data := randomBytes(t, 4096)
	log := &requestLog{}
	ts := newTestServer(t, log.wrap(serveObject(data)))
	script := `printf 'X-Token: token-%s\n' "$iteration"; echo "X-Url: $url"; echo; echo 'X-Static: yes'`
	_, h := mustOpen(t, Options{URL: ts.URL + "/disk.img", HeaderScript: script})
	mustReadAt(t, h, data, 0, 10)
	mustReadAt(t, h, data, 10, 10)
	for _, r := range log.all() {
		if r.Header.Get("X-Token") != "token-0" || r.Header.Get("X-Url") != ts.URL+"/disk.img" || r.Header.Get("X-Static") != "yes" {
			t.Errorf("%s %s: headers %v, want the script's first output", r.Method, r.Header.Get("Range"), r.Header)
		}
	}

	// With renewal, the script runs again once the interval has passed.
	log = &requestLog{}
	ts = newTestServer(t, log.wrap(serveObject(data)))
	_, h = mustOpen(t, Options{URL: ts.URL, HeaderScript: script, HeaderScriptRenew: 300 * time.Millisecond})
	mustReadAt(t, h, data, 0, 10)
	time.Sleep(350 * time.Millisecond)
	mustReadAt(t, h, data, 0, 10)
	requests := log.all()
	first, last := requests[0].Header.Get("X-Token"), requests[len(requests)-1].Header.Get("X-Token")
	if first != "token-0" || last != "token-1" {
		t.Errorf("tokens %q then %q, want token-0 then token-1", first, last)
	}
}

func TestCookieScript(t *testing.T) {
	log := &requestLog{}
	ts := newTestServer(t, log.wrap(serveObject(randomBytes(t, 100))))
	mustOpen(t, Options{URL: ts.URL, CookieScript: `echo "session=s$iteration; user=bob"; echo ignored`})
	for _, r := range log.all() {
		if got := r.Header.Get("Cookie"); got != "session=s0; user=bob" {
			t.Errorf("%s: Cookie %q, want the script's first line", r.Method, got)
		}
	}
}

func TestFailingScripts(t *testing.T) {
	ts := newTestServer(t, serveObject(randomBytes(t, 100)))
	for _, tt := range []struct {
		opts Options
		want []string
	}{
		{Options{HeaderScript: "echo token service down >&2; exit 3"}, []string{"header-script failed", "exit status 3", "token service down"}},
		{Options{HeaderScript: "echo 'not a header'"}, []string{"header-script printed a bad header", "not a header"}},
		{Options{CookieScript: "kill -9 $$"}, []string{"cookie-script failed", "killed"}},
	} {
		tt.opts.URL = ts.URL
		_, _, err := openPlugin(t, tt.opts)
		wantError(t, "opening with "+tt.opts.HeaderScript+tt.opts.CookieScript, err, tt.want...)
	}
}

func TestCookieEngine(t *testing.T) {
	data := randomBytes(t, 4096)
	log := &requestLog{}
	object := serveObject(data)
	ts := newTestServer(t, log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "fromserver", Value: "42"})
		object(w, r)
	})))
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	cookies := filepath.Join(t.TempDir(), "cookies.txt")
	content := "# Netscape HTTP Cookie File\n" +
		host + "\tFALSE\t/\tFALSE\t0\tfromfile\tyes\n" +
		"#HttpOnly_" + host + "\tFALSE\t/\tFALSE\t0\thttponly\tyes\n" +
		host + "\tFALSE\t/\tFALSE\t1\texpired\tyes\n" +
		"other.example\tTRUE\t/\tFALSE\t0\telsewhere\tyes\n"
	if err := os.WriteFile(cookies, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, h := mustOpen(t, Options{URL: ts.URL, CookieFile: cookies})
	mustReadAt(t, h, data, 0, 100)
	requests := log.all()
	cookieNames := func(r *http.Request) string {
		var names []string
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		return strings.Join(names, ",")
	}
	if got := cookieNames(requests[0]); got != "fromfile,httponly" {
		t.Errorf("first request's cookies: %s, want fromfile,httponly", got)
	}
	if got := cookieNames(requests[len(requests)-1]); !strings.Contains(got, "fromserver") {
		t.Errorf("last request's cookies: %s, want the server's too", got)
	}
}

func TestUnixSocket(t *testing.T) {
	data := randomBytes(t, 64<<10)
	log := &requestLog{}
	ts := httptest.NewUnstartedServer(log.wrap(serveObject(data)))
	sock := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	defer ts.Close()
	_, h := mustOpen(t, Options{URL: "http://disk.example/images/disk.img", UnixSocketPath: sock})
	mustReadAt(t, h, data, 0, len(data))
	for _, r := range log.all() {
		if r.Host != "disk.example" || r.URL.Path != "/images/disk.img" {
			t.Errorf("request for %s%s, want disk.example/images/disk.img", r.Host, r.URL.Path)
		}
	}
}

func TestProxy(t *testing.T) {
	data := randomBytes(t, 64<<10)
	log := &requestLog{}
	object := serveObject(data)
	proxy := newTestServer(t, log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("puser:ppass"))
		if r.Header.Get("Proxy-Authorization") != want {
			status(http.StatusProxyAuthRequired)(w, r)
			return
		}
		object(w, r)
	})))
	// The proxy serves the object whatever host the URL names.
	_, h := mustOpen(t, Options{URL: "http://disk.example/disk.img", Proxy: strings.TrimPrefix(proxy.URL, "http://"), ProxyUser: "puser", ProxyPassword: "ppass"})
	mustReadAt(t, h, data, 0, len(data))
	for _, r := range log.all() {
		if r.URL.Host != "disk.example" {
			t.Errorf("the proxy was asked for %s, want disk.example", r.URL)
		}
	}
	_, _, err := openPlugin(t, Options{URL: "http://disk.example/disk.img", Proxy: proxy.URL})
	wantError(t, "opening through a proxy without its password", err, "407 Proxy Authentication Required")
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("error %v: want EACCES", err)
	}
}

func TestProxyFromEnvironmentAndNoProxy(t *testing.T) {
	// Go reads the environment's proxy once per process, so only NoProxy, which
	// overrides it, can be checked here: with a proxy that cannot be reached in the
	// environment, a direct connection still works.
	data := randomBytes(t, 100)
	ts := newTestServer(t, serveObject(data))
	_, h := mustOpen(t, Options{URL: ts.URL, NoProxy: true})
	mustReadAt(t, h, data, 0, 100)
	if _, err := proxyFunc(&Options{NoProxy: true}); err != nil {
		t.Fatal(err)
	}
	f, _ := proxyFunc(&Options{})
	if f == nil {
		t.Error("without proxy= or NoProxy the environment's proxy is not used")
	}
	f, _ = proxyFunc(&Options{NoProxy: true})
	if f != nil {
		t.Error("NoProxy: a proxy function is set")
	}
	if _, err := proxyFunc(&Options{Proxy: "socks4://proxy:1080"}); err == nil || !strings.Contains(err.Error(), "socks4 proxies are not supported") {
		t.Errorf("socks4 proxy: %v", err)
	}
}

func TestTemplateIsNotShared(t *testing.T) {
	tmpl := newTemplate(credentials{cookie: "a=b"}, nil)
	req, err := tmpl.newRequest(context.Background(), http.MethodGet, "http://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-0")
	req.AddCookie(&http.Cookie{Name: "c", Value: "d"})
	if tmpl.header.Get("Range") != "" || tmpl.header.Get("Cookie") != "a=b" {
		t.Errorf("a request's changes reached the template: %v", tmpl.header)
	}
}
