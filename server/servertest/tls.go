package servertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
)

// TLSFiles are certificates made for one test by a CA of its own, written in the
// layouts the servers and clients read.
type TLSFiles struct {
	// ServerDir is an nbdkit --tls-certificates directory: ca-cert.pem,
	// server-cert.pem and server-key.pem, for "localhost" and 127.0.0.1.
	ServerDir string
	// ClientDir is a client directory for libnbd (tls-certificates=DIR in a URI) and
	// qemu (--object tls-creds-x509,dir=DIR,endpoint=client): ca-cert.pem,
	// client-cert.pem and client-key.pem, the client certificate signed by the CA.
	ClientDir string
	// ClientConfig is the same for the pure-Go client: it trusts the CA, presents the
	// client certificate and expects the server name "localhost".
	ClientConfig *tls.Config

	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	serial int64
}

// NewTLSFiles makes a CA, a server and a client certificate valid for a day, in
// directories removed when the test ends.
func NewTLSFiles(t testing.TB) *TLSFiles {
	t.Helper()
	now := time.Now()
	caKey := newTLSKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "servertest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	f := &TLSFiles{ServerDir: t.TempDir(), ca: ca, caKey: caKey, serial: 1,
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	serverCert, serverKey := f.issue(t, now.Add(-time.Hour), now.Add(24*time.Hour), &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	writeTLSFile(t, f.ServerDir, server.TLSCACertFile, f.caPEM)
	writeTLSFile(t, f.ServerDir, server.TLSServerCertFile, serverCert)
	writeTLSFile(t, f.ServerDir, server.TLSServerKeyFile, serverKey)

	clientCert, clientKey := f.issueClient(t, now.Add(-time.Hour), now.Add(24*time.Hour))
	f.ClientDir = f.clientDir(t, clientCert, clientKey)
	pair, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	f.ClientConfig = &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, ServerName: "localhost"}
	return f
}

// ClientDirValid returns a client directory like ClientDir whose client certificate,
// signed by the same CA, is valid from notBefore to notAfter only: to test expired
// certificates, or certificates not valid yet.
func (f *TLSFiles) ClientDirValid(t testing.TB, notBefore, notAfter time.Time) string {
	t.Helper()
	cert, key := f.issueClient(t, notBefore, notAfter)
	return f.clientDir(t, cert, key)
}

// ClientDirWithoutCertificate returns a client directory with the CA only: the client
// verifies the server but presents no certificate.
func (f *TLSFiles) ClientDirWithoutCertificate(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	writeTLSFile(t, dir, "ca-cert.pem", f.caPEM)
	return dir
}

func (f *TLSFiles) clientDir(t testing.TB, cert, key []byte) string {
	dir := f.ClientDirWithoutCertificate(t)
	writeTLSFile(t, dir, "client-cert.pem", cert)
	writeTLSFile(t, dir, "client-key.pem", key)
	return dir
}

func (f *TLSFiles) issueClient(t testing.TB, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	return f.issue(t, notBefore, notAfter, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "servertest client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// issue signs tmpl with the CA and returns the certificate and a new key, in PEM.
func (f *TLSFiles) issue(t testing.TB, notBefore, notAfter time.Time, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newTLSKey(t)
	f.serial++
	tmpl.SerialNumber = big.NewInt(f.serial)
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	// qemu wants key encipherment too, whatever the key type.
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.ca, &key.PublicKey, f.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func newTLSKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeTLSFile writes a file readable by its owner only, as keys should be.
func writeTLSFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ServerOptions returns options serving TLS in mode with the server certificates,
// checking client certificates when verifyPeer is set.
func (f *TLSFiles) ServerOptions(t testing.TB, mode server.TLSMode, verifyPeer bool) server.Options {
	t.Helper()
	certs, err := server.LoadTLSCertificates(f.ServerDir, verifyPeer)
	if err != nil {
		t.Fatal(err)
	}
	return server.Options{TLS: mode, TLSConfig: certs.Config()}
}

// TLSURI returns the nbds+unix URI of the export called name on s, for libnbd's clients
// (nbdsh, nbdinfo, nbdcopy): they verify the server and present the client certificate
// of f.ClientDir.
func (s *Server) TLSURI(f *TLSFiles, name string) string {
	q := url.Values{"socket": {s.Socket}, "tls-certificates": {f.ClientDir}}
	u := url.URL{Scheme: "nbds+unix", Path: "/" + name, RawQuery: q.Encode()}
	return u.String()
}

// QemuTLSArgs returns the qemu-io or qemu-img arguments that open the export called name
// on s over TLS: an --object for the client certificates and --image-opts naming the
// socket, since qemu takes no nbds URI. qemu needs the host name the server
// certificate names even on a Unix socket.
func (s *Server) QemuTLSArgs(f *TLSFiles, name string) []string {
	return []string{
		"--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + f.ClientDir,
		"--image-opts", "driver=nbd,path=" + s.Socket + ",export=" + name + ",tls-creds=tls0,tls-hostname=localhost",
	}
}

// NbdshTLS is [Nbdsh] for an nbds URI from [Server.TLSURI]: libnbd reads the
// certificates its tls-certificates parameter names only when allowed to.
func NbdshTLS(t testing.TB, uri string, stmts ...string) Result {
	t.Helper()
	args := []string{
		"-c", "h.set_uri_allow_local_file(True)",
		"-c", "h.add_meta_context('base:allocation')",
		"-c", fmt.Sprintf("h.connect_uri(%q)", uri),
	}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	return MustRun(t, "nbdsh", args...)
}
