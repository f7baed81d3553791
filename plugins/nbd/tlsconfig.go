package nbd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gonbd/gonbd/protocol/client"
)

// The files of an X.509 certificates directory, as nbdkit, libnbd and qemu name them.
const (
	caCertFile     = "ca-cert.pem"
	clientCertFile = "client-cert.pem"
	clientKeyFile  = "client-key.pem"
)

// errPSK refuses TLS with pre-shared keys, which crypto/tls does not implement.
var errPSK = errors.New("TLS with pre-shared keys (tls-psk=, tls-username=) is not supported: Go's crypto/tls has no TLS-PSK; use X.509 certificates (tls-certificates=)")

// tlsFiles are the X.509 settings nbdkit takes as parameters.
type tlsFiles struct {
	dir      string // tls-certificates=
	noVerify bool   // tls-verify=false
}

// fromURI takes the TLS query parameters of an NBD URI for the settings the
// parameters left unset.
func (f *tlsFiles) fromURI(u *client.URI) error {
	if u.Params.Has("tls-psk-file") || u.Params.Has("tls-username") {
		return errPSK
	}
	if f.dir == "" {
		f.dir = u.Params.Get("tls-certificates")
	}
	if u.Params.Get("tls-verify-peer") == "0" {
		f.noVerify = true
	}
	return nil
}

// config loads the certificates and returns the client's TLS configuration: the
// directory's authority (else the system's) to verify the server, and the directory's
// client certificate, if any, to present.
func (f *tlsFiles) config() (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: f.noVerify}
	if f.dir == "" {
		return cfg, nil
	}
	if info, err := os.Stat(f.dir); err != nil {
		return nil, fmt.Errorf("tls-certificates=%s: %w", f.dir, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("tls-certificates=%s: not a directory", f.dir)
	}

	caPath := filepath.Join(f.dir, caCertFile)
	switch pem, err := os.ReadFile(caPath); {
	case err == nil:
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-certificates: %s holds no PEM certificate", caPath)
		}
	case errors.Is(err, fs.ErrNotExist):
		// The system's authorities verify the server.
	default:
		return nil, fmt.Errorf("tls-certificates: %w", err)
	}

	certPath, keyPath := filepath.Join(f.dir, clientCertFile), filepath.Join(f.dir, clientKeyFile)
	haveCert, haveKey := exists(certPath), exists(keyPath)
	switch {
	case haveCert && haveKey:
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("tls-certificates: loading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case haveCert != haveKey:
		return nil, fmt.Errorf("tls-certificates=%s: %s and %s go together, and only one of them is there", f.dir, clientCertFile, clientKeyFile)
	}
	return cfg, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// clientTLSConfig returns a copy of cfg ready for the server: with serverName to verify
// when cfg names none, or, when no name is known (a Unix socket), a check of the
// certificate chain alone, as libnbd does for servers without a host name.
func clientTLSConfig(cfg *tls.Config, serverName string) *tls.Config {
	cfg = cfg.Clone()
	if cfg.ServerName != "" || cfg.InsecureSkipVerify {
		return cfg
	}
	if serverName != "" {
		cfg.ServerName = serverName
		return cfg
	}
	// crypto/tls verifies a chain only together with a name, so its check is turned
	// off and done here without the name.
	roots, next := cfg.RootCAs, cfg.VerifyConnection
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := verifyChain(cs, roots); err != nil {
			return err
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return cfg
}

// verifyChain checks that the server's certificate chains to one of roots (the
// system's when nil) and is meant for a server.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server presented no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("tls: verifying the server's certificate: %w", err)
	}
	return nil
}
