package curl

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// newTLSServer starts an HTTPS server for h (HTTP/2 too when h2), and returns it with
// a file holding its certificate, which is its own authority.
func newTLSServer(t testing.TB, h http.Handler, h2 bool, config *tls.Config) (*httptest.Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = h2
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are on purpose
	if config != nil {
		ts.TLS = config
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return ts, caFile
}

func TestHTTPS(t *testing.T) {
	data := randomBytes(t, 256<<10)
	var protos atomic.Value
	object := serveObject(data)
	ts, caFile := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto)
		object(w, r)
	}), true, nil)

	_, h := mustOpen(t, Options{URL: ts.URL, CAFile: caFile})
	mustReadAt(t, h, data, 0, len(data))
	if got := protos.Load(); got != "HTTP/2.0" {
		t.Errorf("protocol %v, want HTTP/2.0 with a server that offers it, as libcurl", got)
	}

	dir := filepath.Dir(caFile)
	_, h = mustOpen(t, Options{URL: ts.URL, CAPath: dir})
	mustReadAt(t, h, data, 1000, 1000)

	_, h = mustOpen(t, Options{URL: ts.URL, InsecureSkipVerify: true})
	mustReadAt(t, h, data, 1000, 1000)

	_, _, err := openPlugin(t, Options{URL: ts.URL})
	wantError(t, "opening without the server's authority", err, "certificate")
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("error %v: want EACCES", err)
	}
	_, _, err = openPlugin(t, Options{URL: ts.URL, NoSystemCAs: true, CAPath: t.TempDir()})
	wantError(t, "opening with an empty capath", err, "no PEM certificate in the directory")
}

func TestTLSVersionAndCiphers(t *testing.T) {
	data := randomBytes(t, 4096)
	var suite atomic.Uint32
	object := serveObject(data)
	ts, caFile := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		suite.Store(uint32(r.TLS.CipherSuite))
		object(w, r)
	}), false, &tls.Config{MaxVersion: tls.VersionTLS12})

	for _, name := range []string{"ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"} {
		ids, err := parseCipherList("ECDHE-ECDSA-AES128-SHA:" + name)
		if err != nil {
			t.Fatal(err)
		}
		_, h := mustOpen(t, Options{URL: ts.URL, CAFile: caFile, CipherSuites: ids})
		mustReadAt(t, h, data, 0, 100)
		if got := tls.CipherSuiteName(uint16(suite.Load())); got != tls.CipherSuiteName(ids[1]) {
			t.Errorf("ssl-cipher-list=...:%s: the server saw %s", name, got)
		}
	}

	// A server of TLS 1.2 at most refuses a client of TLS 1.3 at least, at once.
	_, _, err := openPlugin(t, Options{URL: ts.URL, CAFile: caFile, MinTLSVersion: tls.VersionTLS13})
	wantError(t, "ssl-version=tlsv1.3 with a TLS 1.2 server", err, "protocol version")
}

func TestParseCipherList(t *testing.T) {
	ids, err := parseCipherList("ECDHE-RSA-AES128-GCM-SHA256, TLS_RSA_WITH_AES_128_CBC_SHA ecdhe-ecdsa-chacha20-poly1305")
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	if len(ids) != len(want) {
		t.Fatalf("ids %x, want %x", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("suite %d: %x, want %x", i, ids[i], want[i])
		}
	}
	for _, bad := range []string{"HIGH:!aNULL", "TLS_AES_128_GCM_SHA256", "DHE-RSA-AES128-SHA", ":"} {
		if _, err := parseCipherList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Every OpenSSL name of the table is a suite Go has.
	for openssl, standard := range opensslCipherNames {
		if _, err := parseCipherList(openssl); err != nil {
			t.Errorf("%s (%s): %v", openssl, standard, err)
		}
	}
}

func TestParseSSLVersion(t *testing.T) {
	for value, want := range map[string]uint16{
		"tlsv1": tls.VersionTLS10, "tlsv1.0": tls.VersionTLS10, "tlsv1.1": tls.VersionTLS11,
		"TLSv1.2": tls.VersionTLS12, "tlsv1.3": tls.VersionTLS13,
	} {
		if got, err := parseSSLVersion(value); err != nil || got != want {
			t.Errorf("%s: %x, %v; want %x", value, got, err, want)
		}
	}
	for value, want := range map[string]string{"sslv3": "no SSL", "sslv2": "no SSL", "tlsv2": "unknown"} {
		if _, err := parseSSLVersion(value); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", value, err, want)
		}
	}
}
