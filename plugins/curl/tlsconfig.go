package curl

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tlsConfig returns the client's TLS configuration from opts, loading the authorities
// it names.
func tlsConfig(opts *Options) (*tls.Config, error) {
	cfg := &tls.Config{
		InsecureSkipVerify: opts.InsecureSkipVerify,
		MinVersion:         opts.MinTLSVersion,
		CipherSuites:       opts.CipherSuites,
	}
	if opts.CAFile == "" && opts.CAPath == "" && !opts.NoSystemCAs {
		return cfg, nil // the system's authorities
	}
	var roots *x509.CertPool
	if opts.CAFile == "" && !opts.NoSystemCAs {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("capath=%s: loading the system's certificate authorities to add to: %w", opts.CAPath, err)
		}
	} else {
		roots = x509.NewCertPool()
	}
	if opts.CAFile != "" {
		data, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cainfo=%s: %w", opts.CAFile, err)
		}
		if n := addPEMCertificates(roots, data); n == 0 {
			return nil, fmt.Errorf("cainfo=%s: no PEM certificate in the file", opts.CAFile)
		}
	}
	if opts.CAPath != "" {
		if err := addCertificateDir(roots, opts.CAPath); err != nil {
			return nil, err
		}
	}
	cfg.RootCAs = roots
	return cfg, nil
}

// addCertificateDir adds the certificates of every PEM file in dir (OpenSSL's
// c_rehash links, *.pem, *.crt...) to roots. Files that hold none are skipped, as
// OpenSSL skips them; a directory without any certificate is an error.
func addCertificateDir(roots *x509.CertPool, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("capath=%s: %w", dir, err)
	}
	total := 0
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		info, err := os.Stat(path) // follows c_rehash's symbolic links
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("capath=%s: %w", dir, err)
		}
		total += addPEMCertificates(roots, data)
	}
	if total == 0 {
		return fmt.Errorf("capath=%s: no PEM certificate in the directory", dir)
	}
	return nil
}

// addPEMCertificates adds the certificates in data to roots and returns how many there
// were. Blocks that are not certificates, or not valid ones, are skipped.
func addPEMCertificates(roots *x509.CertPool, data []byte) int {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return n
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		roots.AddCert(cert)
		n++
	}
}

// parseSSLVersion parses nbdkit's ssl-version= values, which set the oldest TLS version
// accepted, as libcurl's CURLOPT_SSLVERSION does.
func parseSSLVersion(s string) (uint16, error) {
	switch strings.ToLower(s) {
	case "tlsv1", "tlsv1.0":
		return tls.VersionTLS10, nil
	case "tlsv1.1":
		return tls.VersionTLS11, nil
	case "tlsv1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.3":
		return tls.VersionTLS13, nil
	case "sslv2", "sslv3":
		return 0, fmt.Errorf("%s is not supported: Go's crypto/tls implements TLS 1.0 to 1.3, and no SSL", s)
	}
	return 0, fmt.Errorf("unknown SSL/TLS version %q (expected tlsv1, tlsv1.0, tlsv1.1, tlsv1.2 or tlsv1.3)", s)
}

// opensslCipherNames maps the OpenSSL names of the TLS 1.0–1.2 cipher suites Go
// implements, which libcurl's users write in ssl-cipher-list=, to their standard names.
var opensslCipherNames = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-ECDSA-RC4-SHA":           "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":             "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"RC4-SHA":                       "TLS_RSA_WITH_RC4_128_SHA",
}

// parseCipherList parses ssl-cipher-list=: cipher suites separated by colons (or
// commas or spaces), by their OpenSSL or standard names. OpenSSL's keywords and
// operators (HIGH, !aNULL, @STRENGTH...) have no meaning to Go and are refused, as are
// suites Go does not implement.
func parseCipherList(list string) ([]uint16, error) {
	byName := make(map[string]uint16)
	for _, suites := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range suites {
			if !tls13Only(s) {
				byName[s.Name] = s.ID
			}
		}
	}
	var ids []uint16
	for name := range strings.FieldsFuncSeq(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		standard := name
		if s, ok := opensslCipherNames[strings.ToUpper(name)]; ok {
			standard = s
		}
		id, ok := byName[strings.ToUpper(standard)]
		if !ok {
			return nil, fmt.Errorf("cipher suite %q is not one Go implements for TLS 1.0 to 1.2 (name suites one by one, by their OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256 or their standard names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("no cipher suite named")
	}
	return ids, nil
}

// tls13Only reports whether a suite is used by TLS 1.3 only, whose suites Go does not
// let be chosen.
func tls13Only(s *tls.CipherSuite) bool {
	for _, v := range s.SupportedVersions {
		if v != tls.VersionTLS13 {
			return false
		}
	}
	return true
}
