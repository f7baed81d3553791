package main

// End-to-end tests of the curl plugin through the gonbd binary, against a web server in
// the test process. (plugins/curl tests it against nginx as well.)

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// e2eWebServer serves data at /disk.img, with HTTP ranges, to clients that give the
// user name and password, and records the X-Test headers it receives.
type e2eWebServer struct {
	*httptest.Server
	mu          sync.Mutex
	testHeaders []string
}

func newE2EWebServer(t *testing.T, data []byte, user, password string) *e2eWebServer {
	t.Helper()
	s := &e2eWebServer{}
	modified := time.Now()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		if v := r.Header.Get("X-Test"); v != "" {
			s.mu.Lock()
			s.testHeaders = append(s.testHeaders, v)
			s.mu.Unlock()
		}
		if r.URL.Path != "/disk.img" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "disk.img", modified, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *e2eWebServer) headers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.testHeaders...)
}

func TestE2EPluginCurl(t *testing.T) {
	e2eStart(t, "nbdcopy", "nbdsh", "nbdinfo")
	data := make([]byte, 8*e2eMiB+512)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	web := newE2EWebServer(t, data, "alice", "open sesame")
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passwordFile, []byte("open sesame\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-r", "curl", web.URL + "/disk.img", "user=alice", "password=+" + passwordFile, "header=X-Test: from-header"}
	if !e2eNbdkit() {
		args = append(args, "connections=2") // nbdkit has it from 1.34 only
	}
	s := e2eUnix(t, args...)

	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "nbdcopy", s.URI, out)
	sum := sha256.Sum256(data)
	if got, n := e2eFileSHA256(t, out); got != hex.EncodeToString(sum[:]) || n != int64(len(data)) {
		t.Errorf("nbdcopy: %d bytes with SHA-256 %s, want the object's %d bytes", n, got, len(data))
	}
	image := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(image, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e2eNbdsh(t, []string{"GONBD_URI=" + s.URI, "IMAGE=" + image},
		"import os, random",
		"h = nbd.NBD()",
		"h.connect_uri(os.environ['GONBD_URI'])",
		"assert h.get_size() == os.path.getsize(os.environ['IMAGE'])",
		"assert h.is_read_only()",
		`
f = open(os.environ['IMAGE'], 'rb')
size = h.get_size()
for i in range(100):
    off = random.randrange(0, size)
    n = random.randint(1, min(1 << 20, size - off))
    f.seek(off)
    assert h.pread(n, off) == f.read(n), (off, n)`)
	for _, h := range web.headers() {
		if h != "from-header" {
			t.Errorf("the web server received X-Test: %q, want from-header", h)
		}
	}
	if len(web.headers()) == 0 {
		t.Error("header= did not reach the web server")
	}

	// A header script, whose output the web server receives.
	s = e2eUnix(t, "-r", "curl", "url="+web.URL+"/disk.img", "user=alice", "password=open sesame",
		`header-script=echo "X-Test: script-$iteration"`)
	e2eMustRun(t, "nbdinfo", s.URI)
	if got := web.headers(); got[len(got)-1] != "script-0" {
		t.Errorf("the web server received X-Test: %q last, want script-0", got[len(got)-1])
	}

	// A wrong password or a missing object refuses clients, and the log says why.
	for _, tt := range []struct{ args []string }{
		{[]string{"url=" + web.URL + "/disk.img", "user=alice", "password=guess"}},
		{[]string{"url=" + web.URL + "/none.img", "user=alice", "password=open sesame"}},
	} {
		s := e2eUnix(t, append([]string{"-r", "curl"}, tt.args...)...)
		if r := e2eRun(t, "nbdinfo", s.URI); r.Code == 0 {
			t.Errorf("gonbd curl %q: nbdinfo succeeded: %s", tt.args, r)
		}
	}
}

func TestE2EPluginCurlBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	for _, tt := range []struct {
		args      []string
		want      string
		gonbdOnly bool // nbdkit accepts it
	}{
		{[]string{"curl"}, "missing required parameter url", false},
		{[]string{"curl", "ftp://example.com/disk.img"}, "speaks HTTP and HTTPS only, not ftp", true},
		{[]string{"curl", "https://example.com/", "sslverify=maybe"}, `sslverify=maybe: could not parse boolean "maybe"`, false},
		{[]string{"curl", "https://example.com/", "ssl-version=sslv3"}, "ssl-version=sslv3: sslv3 is not supported", true},
		{[]string{"curl", "https://example.com/", "tls13-ciphers=TLS_AES_128_GCM_SHA256"}, "tls13-ciphers=TLS_AES_128_GCM_SHA256 is not supported", true},
		{[]string{"curl", "https://example.com/", "cookiejar=/tmp/jar"}, "cookiejar=/tmp/jar is not supported", true},
		{[]string{"curl", "https://example.com/", "header=no colon"}, `header "no colon"`, true},
		{[]string{"curl", "https://example.com/", "header=X-A: 1", "header-script=echo"}, "header-script= and header= cannot be used together", false},
		{[]string{"curl", "https://example.com/", "connections=0"}, "connections=0: the number of connections must be from 1 to 1024", false},
		{[]string{"curl", "https://example.com/", "user=a", "password=+/no/such/file"}, "password=+/no/such/file: open /no/such/file: no such file or directory", false},
	} {
		if tt.gonbdOnly && e2eNbdkit() {
			continue
		}
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if e2eNbdkit() {
			tt.want = "" // nbdkit says it in its own words
		}
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
