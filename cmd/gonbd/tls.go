package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// rootTLSCertificatesDir is where nbdkit, and so gonbd, looks for certificates when run
// as root without --tls-certificates (nbdkit's $sysconfdir/pki/nbdkit).
const rootTLSCertificatesDir = "/etc/pki/nbdkit"

// errPSK explains why --tls-psk is refused rather than served some other way.
var errPSK = errors.New("--tls-psk: TLS with pre-shared keys is not supported: Go's crypto/tls has no PSK " +
	"cipher suites (see docs/security.md); use X.509 certificates (--tls-certificates) instead")

// tlsCertificateDirs returns the directories searched for certificates, in order:
// --tls-certificates alone when given, else nbdkit's defaults for root or for others.
func (c *config) tlsCertificateDirs(euid int, env []string) []string {
	if c.tlsCertDir != "" {
		return []string{c.tlsCertDir}
	}
	if euid == 0 {
		return []string{rootTLSCertificatesDir}
	}
	home, _ := lookupEnv(env, "HOME")
	if home == "" {
		return nil
	}
	return []string{filepath.Join(home, ".pki", "nbdkit"), filepath.Join(home, ".config", "pki", "nbdkit")}
}

// setupTLS settles the TLS mode and loads the certificates as nbdkit does. Without
// --tls, TLS is on when certificates load from --tls-certificates or a default
// directory, and off otherwise. --tls=on without certificates warns and serves in
// plaintext; --tls=require without them is an error. It sets c.opts.TLS and
// c.opts.TLSConfig, and c.tls to the mode in effect (for --run's $tls).
func (c *config) setupTLS(euid int, env []string, warn io.Writer) error {
	if c.tlsPSK != "" {
		return errPSK
	}
	mode := server.TLSOff
	if c.tls != "" {
		var err error
		if mode, err = server.ParseTLSMode(c.tls); err != nil {
			return fmt.Errorf("--tls: %w", err)
		}
		if mode == server.TLSOff {
			return nil
		}
	}
	certs, err := loadFirstTLSDir(c.tlsCertificateDirs(euid, env), c.tlsVerifyPeer)
	switch {
	case err != nil && mode == server.TLSRequire:
		return fmt.Errorf("--tls=require, but the TLS certificates could not be loaded: %w "+
			"(set --tls-certificates=DIR; see docs/security.md)", err)
	case err != nil && c.tls == "on":
		fmt.Fprintf(warn, "gonbd: warning: --tls=on, but the TLS certificates could not be loaded: %v\n"+
			"gonbd: warning: TLS is disabled and clients asking for it are refused (set --tls-certificates=DIR)\n", err)
		c.tls = "off"
		return nil
	case err != nil:
		c.tls = "off"
		return nil
	}
	if mode == server.TLSOff {
		mode = server.TLSOn
	}
	c.tls = mode.String()
	c.tlsCerts = certs
	c.opts.TLS = mode
	c.opts.TLSConfig = certs.Config()
	return nil
}

// loadFirstTLSDir loads the first of dirs holding usable certificates.
func loadFirstTLSDir(dirs []string, verifyPeer bool) (*server.TLSCertificates, error) {
	if len(dirs) == 0 {
		return nil, errors.New("no certificates directory (HOME is not set)")
	}
	var errs []error
	for _, dir := range dirs {
		certs, err := server.LoadTLSCertificates(dir, verifyPeer)
		if err == nil {
			return certs, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// reloadTLS reloads the certificates on SIGHUP: the connections in TLS keep theirs,
// new ones get the new certificates; on error the old ones stay in use.
func (c *config) reloadTLS(logger *slog.Logger) {
	if c.tlsCerts == nil {
		logger.Debug("SIGHUP: no TLS certificates to reload")
		return
	}
	if err := c.tlsCerts.Reload(); err != nil {
		logger.Error("SIGHUP: reloading the TLS certificates failed; the previous ones stay in use", "err", err)
		return
	}
	logger.Info("SIGHUP: TLS certificates reloaded", "dir", c.tlsCerts.Dir())
}

// tlsURI returns uri with the scheme that requires TLS (nbds, nbds+unix, nbds+vsock)
// when the server requires it, as nbdkit's --print-uri and $uri do. With --tls=on the
// plaintext URI stays right: clients may choose.
func tlsURI(uri string, mode server.TLSMode) string {
	if mode != server.TLSRequire || !strings.HasPrefix(uri, "nbd") || strings.HasPrefix(uri, "nbds") {
		return uri
	}
	return "nbds" + strings.TrimPrefix(uri, "nbd")
}
