package curl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server/servertest"
)

// nginxBinary is where Debian installs nginx.
const nginxBinary = "/usr/sbin/nginx"

// An nginxServer is a real nginx serving a directory over HTTP and HTTPS on loopback
// ports, for the test that started it.
type nginxServer struct {
	// HTTP and HTTPS are the base URLs, such as http://127.0.0.1:PORT.
	HTTP, HTTPS string
	// CAFile is the PEM file of the authority that signed the server's certificate.
	CAFile string
	dir    string
}

// startNginx serves root with nginx until the test ends. The certificate of the HTTPS
// server is made for the test, by an authority of its own, for 127.0.0.1 and localhost.
func startNginx(t testing.TB, root string) *nginxServer {
	t.Helper()
	if _, err := os.Stat(nginxBinary); err != nil {
		if os.Getenv("GONBD_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("nginx is needed and GONBD_REQUIRE_CLIENTS=1: %v", err)
		}
		t.Skipf("nginx not installed: %v", err)
	}
	dir := t.TempDir()
	certs := newTestCA(t, dir)
	var lastErr error
	for range 5 { // a port found free may be taken before nginx binds it
		httpPort, httpsPort := freePort(t), freePort(t)
		conf := fmt.Sprintf(nginxConfig, dir, dir, dir, dir, dir, dir, dir, httpPort, root, httpsPort, certs.cert, certs.key, root)
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(nginxBinary, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
		out := &servertest.LogBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if lastErr = waitListening(exited, httpPort, httpsPort); lastErr != nil {
			cmd.Process.Kill()
			<-exited
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			lastErr = fmt.Errorf("%w\n%s%s", lastErr, out, log)
			continue
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		return &nginxServer{
			HTTP:   fmt.Sprintf("http://127.0.0.1:%d", httpPort),
			HTTPS:  fmt.Sprintf("https://127.0.0.1:%d", httpsPort),
			CAFile: certs.ca,
			dir:    dir,
		}
	}
	t.Fatalf("starting nginx: %v", lastErr)
	return nil
}

// nginxConfig runs one nginx process in the foreground with every path in the test's
// directory. Its arguments: the directory (7 times), the HTTP port and root, the HTTPS
// port, certificate, key and root.
const nginxConfig = `
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
events { worker_connections 512; }
http {
	access_log off;
	client_body_temp_path %s/body;
	proxy_temp_path %s/proxy;
	fastcgi_temp_path %s/fastcgi;
	uwsgi_temp_path %s/uwsgi;
	scgi_temp_path %s/scgi;
	error_log %s/error.log warn;
	default_type application/octet-stream;
	sendfile on;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:%d;
		root %s;
	}
	server {
		listen 127.0.0.1:%d ssl;
		ssl_certificate %s;
		ssl_certificate_key %s;
		root %s;
	}
}
`

// waitListening waits until both ports accept connections, or nginx exits.
func waitListening(exited <-chan error, ports ...int) error {
	deadline := time.Now().Add(testTimeout)
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				return fmt.Errorf("nginx exited: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nginx does not listen on port %d: %v", port, err)
			}
		}
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testCerts are the PEM files newTestCA writes.
type testCerts struct{ ca, cert, key string }

// newTestCA makes a certificate authority and a server certificate it signs for
// 127.0.0.1 and localhost, valid for a day, and writes them in dir.
func newTestCA(t testing.TB, dir string) testCerts {
	t.Helper()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, serverKey := newKey(), newKey()
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gonbd curl test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	serverTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTemplate, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	certs := testCerts{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server-key.pem")}
	for path, block := range map[string]*pem.Block{
		certs.ca:   {Type: "CERTIFICATE", Bytes: caDER},
		certs.cert: {Type: "CERTIFICATE", Bytes: serverDER},
		certs.key:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certs
}

// nginxWithImage serves a random image of size bytes with nginx, and returns the
// server, the image's path and name on the server, and its SHA-256.
func nginxWithImage(t testing.TB, size int64) (ng *nginxServer, path, name, sum string) {
	t.Helper()
	root := t.TempDir()
	path, sum = servertest.RandomFile(t, root, size)
	return startNginx(t, root), path, "/" + filepath.Base(path), sum
}
