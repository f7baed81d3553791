package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync/atomic"
)

// The files of an nbdkit --tls-certificates directory.
const (
	TLSCACertFile     = "ca-cert.pem"     // the CA that signs client certificates
	TLSServerCertFile = "server-cert.pem" // the server's certificate (and chain)
	TLSServerKeyFile  = "server-key.pem"  // its private key
	TLSCRLFile        = "ca-crl.pem"      // optional: client certificates revoked by the CA
)

// TLSCertificates are the certificates of a directory laid out as nbdkit's
// --tls-certificates directory: ca-cert.pem, server-cert.pem, server-key.pem and,
// optionally, ca-crl.pem. They can be reloaded while the server runs (on SIGHUP, say):
// connections already in TLS keep the certificates they started with, new ones get
// the new certificates.
type TLSCertificates struct {
	dir        string
	verifyPeer bool
	current    atomic.Pointer[tls.Config]
}

// LoadTLSCertificates loads the certificates in dir. With verifyPeer, clients must
// present a certificate signed by the CA of ca-cert.pem and not revoked by ca-crl.pem
// (nbdkit --tls-verify-peer); without, the server asks for none.
func LoadTLSCertificates(dir string, verifyPeer bool) (*TLSCertificates, error) {
	c := &TLSCertificates{dir: dir, verifyPeer: verifyPeer}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Dir returns the directory the certificates come from.
func (c *TLSCertificates) Dir() string { return c.dir }

// Reload reads the directory again. On error the certificates loaded before stay in
// use.
func (c *TLSCertificates) Reload() error {
	cfg, err := loadTLSDir(c.dir, c.verifyPeer)
	if err != nil {
		return err
	}
	c.current.Store(cfg)
	return nil
}

// Config returns the configuration for [Options].TLSConfig: each TLS handshake uses the
// certificates loaded last.
func (c *TLSCertificates) Config() *tls.Config {
	return &tls.Config{
		MinVersion: minTLSVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return c.current.Load(), nil
		},
	}
}

// loadTLSDir builds the server configuration from the files of dir.
func loadTLSDir(dir string, verifyPeer bool) (*tls.Config, error) {
	path := func(name string) string { return filepath.Join(dir, name) }
	cert, err := tls.LoadX509KeyPair(path(TLSServerCertFile), path(TLSServerKeyFile))
	if err != nil {
		return nil, fmt.Errorf("TLS certificates in %s: %w", dir, err)
	}
	cas, err := readCertificates(path(TLSCACertFile))
	if err != nil {
		return nil, fmt.Errorf("TLS certificates in %s: %w", dir, err)
	}
	crls, err := readCRLs(path(TLSCRLFile), cas)
	if err != nil {
		return nil, fmt.Errorf("TLS certificates in %s: %w", dir, err)
	}
	cfg := &tls.Config{
		MinVersion:   minTLSVersion,
		Certificates: []tls.Certificate{cert},
	}
	if verifyPeer {
		pool := x509.NewCertPool()
		for _, ca := range cas {
			pool.AddCert(ca)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = pool
		if len(crls) > 0 {
			// VerifyConnection, unlike VerifyPeerCertificate, also runs when a client
			// resumes a session.
			cfg.VerifyConnection = refuseRevoked(crls)
		}
	}
	return cfg, nil
}

// readCertificates reads the PEM certificates of a file; there must be one at least.
func readCertificates(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", name)
	}
	return certs, nil
}

// readCRLs reads the PEM revocation lists of an optional file and checks that one of
// the CAs signed each: a list nobody trusted signed must not revoke anything silently,
// nor be taken for protection it does not give.
func readCRLs(name string, cas []*x509.Certificate) ([]*x509.RevocationList, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var crls []*x509.RevocationList
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			continue
		}
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if !signedByOneOf(crl, cas) {
			return nil, fmt.Errorf("%s: the revocation list of %q is not signed by a CA of %s", name, crl.Issuer, TLSCACertFile)
		}
		crls = append(crls, crl)
	}
	if len(crls) == 0 {
		return nil, fmt.Errorf("%s: no PEM revocation list (X509 CRL)", name)
	}
	return crls, nil
}

func signedByOneOf(crl *x509.RevocationList, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// refuseRevoked returns a check, run after crypto/tls verified the client's chain,
// that fails when a certificate of the chain is revoked by a list its issuer signed.
func refuseRevoked(crls []*x509.RevocationList) func(tls.ConnectionState) error {
	return func(st tls.ConnectionState) error {
		for _, chain := range st.VerifiedChains {
			for i := 0; i+1 < len(chain); i++ {
				if revoked(crls, chain[i], chain[i+1]) {
					return fmt.Errorf("client certificate %q (serial %s) is revoked", chain[i].Subject, chain[i].SerialNumber)
				}
			}
		}
		return nil
	}
}

func revoked(crls []*x509.RevocationList, cert, issuer *x509.Certificate) bool {
	for _, crl := range crls {
		if crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		for _, r := range crl.RevokedCertificateEntries {
			if sameSerial(r.SerialNumber, cert.SerialNumber) {
				return true
			}
		}
	}
	return false
}

func sameSerial(a, b *big.Int) bool { return a != nil && b != nil && a.Cmp(b) == 0 }
