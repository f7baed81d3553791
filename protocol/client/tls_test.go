package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
)

// certificates writes a CA and a server certificate for "localhost" in the layout of
// nbdkit's --tls-certificates directory, and returns the directory and a pool holding
// the CA.
func certificates(t *testing.T) (dir string, roots *x509.CertPool) {
	t.Helper()
	dir = t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	caKey := newKey()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gonbd test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	serverKey := newKey()
	server := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, server, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM("ca-cert.pem", "CERTIFICATE", caDER)
	writePEM("server-cert.pem", "CERTIFICATE", serverDER)
	writePEM("server-key.pem", "PRIVATE KEY", keyDER)

	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(caCert)
	return dir, roots
}

func TestTLS(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	dir, roots := certificates(t)
	s := nbdkit(t, "--tls=require", "--tls-certificates="+dir, "memory", "16M")

	c := dial(t, ctx, s, &client.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
	if !c.TLS() || !c.StructuredReplies() {
		t.Errorf("TLS %v, structured replies %v; want both", c.TLS(), c.StructuredReplies())
	}
	roundTrip(t, c, 1*miB, 256*kiB)
	if got := allocationMap(t, c, c.Size(), 0); len(got) != 3 {
		t.Errorf("allocation map over TLS: %+v, want hole, data, hole", got)
	}

	// An nbds URI: the tls-hostname parameter names the server.
	u := &client.URI{Scheme: "nbds+unix", Socket: s.socket, Params: url.Values{"tls-hostname": {"localhost"}}}
	cu, err := client.DialURI(ctx, u.String(), &client.Options{TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatalf("DialURI(%s): %v", u, err)
	}
	if !cu.TLS() {
		t.Error("DialURI of an nbds URI: no TLS")
	}
	cu.Close()

	// Without TLS the server refuses every option.
	_, err = client.Dial(ctx, "unix", s.socket, nil)
	var oe *client.OptionError
	if !errors.As(err, &oe) || oe.Reply != protocol.RepErrTLSReqd {
		t.Errorf("Dial without TLS to a server requiring it: %v, want NBD_REP_ERR_TLS_REQD", err)
	}

	// A certificate from an unknown CA fails the handshake.
	_, err = client.Dial(ctx, "unix", s.socket, &client.Options{TLSConfig: &tls.Config{ServerName: "localhost"}})
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) {
		t.Errorf("Dial trusting no CA: %v, want x509.UnknownAuthorityError", err)
	}
}
