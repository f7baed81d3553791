package nbd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server/servertest"
)

// testPKI holds certificate directories laid out as nbdkit and the plugin expect.
type testPKI struct {
	server     string // ca-cert.pem, server-cert.pem, server-key.pem: for nbdkit
	client     string // ca-cert.pem, client-cert.pem, client-key.pem
	clientNoID string // ca-cert.pem only: verifies the server, presents nothing
	otherCA    string // ca-cert.pem of an authority that signed nothing here
}

// issuer is a certificate and its key, able to sign others.
type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	root := t.TempDir()
	pki := testPKI{
		server: filepath.Join(root, "server"), client: filepath.Join(root, "client"),
		clientNoID: filepath.Join(root, "client-noid"), otherCA: filepath.Join(root, "other"),
	}
	ca := newCertificate(t, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "gonbd test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	})
	other := newCertificate(t, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	serverCert := newCertificate(t, &ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	clientCert := newCertificate(t, &ca, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "gonbd test client"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	writePEM(t, pki.server, "ca-cert.pem", ca.cert, nil)
	writePEM(t, pki.server, "server", serverCert.cert, serverCert.key)
	writePEM(t, pki.client, "ca-cert.pem", ca.cert, nil)
	writePEM(t, pki.client, "client", clientCert.cert, clientCert.key)
	writePEM(t, pki.clientNoID, "ca-cert.pem", ca.cert, nil)
	writePEM(t, pki.otherCA, "ca-cert.pem", other.cert, nil)
	return pki
}

// newCertificate makes a key and a certificate from template, signed by parent (self
// signed when nil).
func newCertificate(t *testing.T, parent *issuer, template *x509.Certificate) issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	template.SerialNumber = serial
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(24 * time.Hour)
	signer := issuer{cert: template, key: key}
	if parent != nil {
		signer = *parent
	}
	der, err := x509.CreateCertificate(rand.Reader, template, signer.cert, &key.PublicKey, signer.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issuer{cert: cert, key: key}
}

// writePEM writes cert as name in dir, or, with a key, as name-cert.pem and
// name-key.pem.
func writePEM(t *testing.T, dir, name string, cert *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile := name
	if key != nil {
		certFile = name + "-cert.pem"
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(filepath.Join(dir, certFile), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dialProxyError connects to the proxy and returns why it refused the export, or nil.
func dialProxyError(t *testing.T, proxy *servertest.Server) error {
	t.Helper()
	c, err := client.Dial(testContext(t), "unix", proxy.Socket, nil)
	if err == nil {
		c.Close()
	}
	return err
}

func TestE2ETLS(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdsh")
	pki := newTestPKI(t)
	tlsOnly := startNbdkit(t, "--tls=require", "--tls-certificates="+pki.server, "memory", "1M")
	clientsOnly := startNbdkit(t, "--tls=require", "--tls-verify-peer", "--tls-certificates="+pki.server, "memory", "1M")
	clear := startNbdkit(t, "memory", "1M")

	works := func(t *testing.T, params ...string) {
		t.Helper()
		proxy := proxyTo(t, params...)
		servertest.Nbdsh(t, proxy.URI(),
			"h.pwrite(b'secret' * 100, 4096)",
			"assert h.pread(600, 4096) == b'secret' * 100")
	}
	fails := func(t *testing.T, why string, params ...string) {
		t.Helper()
		err := dialProxyError(t, proxyTo(t, params...))
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("connecting through a proxy with %q: %v, want an error saying %q", params, err, why)
		}
	}

	t.Run("verified over a Unix socket", func(t *testing.T) {
		works(t, "socket="+tlsOnly, "tls=require", "tls-certificates="+pki.clientNoID)
	})
	t.Run("client certificate", func(t *testing.T) {
		works(t, "socket="+clientsOnly, "tls=require", "tls-certificates="+pki.client)
	})
	t.Run("URI", func(t *testing.T) {
		works(t, "uri=nbds+unix:///?socket="+clientsOnly+"&tls-certificates="+pki.client)
	})
	t.Run("tls=on upgrades", func(t *testing.T) {
		works(t, "socket="+tlsOnly, "tls=on", "tls-certificates="+pki.clientNoID)
	})
	t.Run("tls=on falls back to clear text", func(t *testing.T) {
		works(t, "socket="+clear, "tls=on", "tls-certificates="+pki.clientNoID)
	})
	t.Run("tls-verify=false", func(t *testing.T) {
		works(t, "socket="+tlsOnly, "tls=require", "tls-certificates="+pki.otherCA, "tls-verify=false")
	})
	t.Run("unknown authority", func(t *testing.T) {
		fails(t, "certificate signed by unknown authority", "socket="+tlsOnly, "tls=require", "tls-certificates="+pki.otherCA)
	})
	t.Run("no client certificate", func(t *testing.T) {
		// Under TLS 1.3 the server's refusal comes after the client's handshake is
		// done: the client learns of it as a connection closed on its next option.
		fails(t, clientsOnly, "socket="+clientsOnly, "tls=require", "tls-certificates="+pki.clientNoID)
	})
	t.Run("tls=off to a server that requires TLS", func(t *testing.T) {
		fails(t, "add tls=require", "socket="+tlsOnly)
	})
	t.Run("tls=require to a server without TLS", func(t *testing.T) {
		fails(t, "does not offer TLS", "socket="+clear, "tls=require", "tls-certificates="+pki.clientNoID)
	})
}

func TestE2ETLSOverTCPVerifiesTheName(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdsh")
	pki := newTestPKI(t)
	port := startNbdkitTCP(t, "--tls=require", "--tls-certificates="+pki.server, "memory", "1M")

	proxy := proxyTo(t, "hostname=localhost", "port="+port, "tls=require", "tls-certificates="+pki.clientNoID)
	servertest.Nbdsh(t, proxy.URI(), "assert h.get_size() == 1024 * 1024")
	proxy = proxyTo(t, "uri=nbds://localhost:"+port+"/?tls-certificates="+pki.clientNoID)
	servertest.Nbdsh(t, proxy.URI(), "assert h.get_size() == 1024 * 1024")

	// The certificate names localhost, not 127.0.0.1.
	err := dialProxyError(t, proxyTo(t, "hostname=127.0.0.1", "port="+port, "tls=require", "tls-certificates="+pki.clientNoID))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("a certificate for localhost at 127.0.0.1: %v, want a name mismatch", err)
	}
}
