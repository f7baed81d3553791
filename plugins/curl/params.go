package curl

import (
	"fmt"
	"strings"
	"time"

	"github.com/gonbd/gonbd/server"
)

// tcpKeepAliveInterval is libcurl's keepalive interval, used with tcp-keepalive=true.
const tcpKeepAliveInterval = 60 * time.Second

// optionsFromParams reads the plugin's parameters, with nbdkit's names and syntax.
// Secrets given as "-" are typed on the terminal of secrets.stdin. Contradictions
// between parameters are New's to find.
func optionsFromParams(p *server.Params, secrets secretReader) (Options, error) {
	opts := Options{Logger: p.Logger}
	if err := refuseUnsupported(p); err != nil {
		return opts, err
	}
	opts.URL = p.String("url", "")
	opts.User = p.String("user", "")
	opts.Headers = p.All("header")
	opts.HeaderScript = p.String("header-script", "")
	opts.CookieScript = p.String("cookie-script", "")
	opts.UserAgent = p.String("user-agent", "")
	opts.CAPath = p.String("capath", "")
	opts.ProxyUser = p.String("proxy-user", "")
	opts.UnixSocketPath = p.String("unix-socket-path", "")

	var err error
	for _, secret := range []struct {
		key string
		to  *string
	}{
		{"password", &opts.Password},
		{"proxy-password", &opts.ProxyPassword},
		{"cookie", &opts.Cookie},
	} {
		if value, ok := p.Lookup(secret.key); ok {
			if *secret.to, err = secrets.read(secret.key, value); err != nil {
				return opts, err
			}
		}
	}
	if opts.HeaderScriptRenew, err = seconds(p, "header-script-renew"); err != nil {
		return opts, err
	}
	if opts.CookieScriptRenew, err = seconds(p, "cookie-script-renew"); err != nil {
		return opts, err
	}
	if opts.Timeout, err = seconds(p, "timeout"); err != nil {
		return opts, err
	}
	if value, ok := p.Lookup("cookiefile"); ok {
		opts.CookieEngine, opts.CookieFile = true, value
	}
	if value, ok := p.Lookup("cainfo"); ok {
		opts.CAFile, opts.NoSystemCAs = value, value == ""
	}
	verify, err := p.Bool("sslverify", true)
	if err != nil {
		return opts, err
	}
	opts.InsecureSkipVerify = !verify
	if value, ok := p.Lookup("ssl-version"); ok {
		if opts.MinTLSVersion, err = parseSSLVersion(value); err != nil {
			return opts, fmt.Errorf("ssl-version=%s: %w", value, err)
		}
	}
	if value, ok := p.Lookup("ssl-cipher-list"); ok {
		if opts.CipherSuites, err = parseCipherList(value); err != nil {
			return opts, fmt.Errorf("ssl-cipher-list=%s: %w", value, err)
		}
	}
	follow, err := p.Bool("followlocation", true)
	if err != nil {
		return opts, err
	}
	opts.NoFollowRedirects = !follow
	if value, ok := p.Lookup("protocols"); ok {
		if value == "" {
			return opts, fmt.Errorf("protocols= is empty: name the protocols allowed, e.g. protocols=http,https")
		}
		opts.Protocols = strings.Split(value, ",")
	}
	if value, ok := p.Lookup("proxy"); ok {
		opts.Proxy, opts.NoProxy = value, value == ""
	}
	connections, err := p.Int64("connections", defaultConnections)
	if err != nil {
		return opts, err
	}
	if connections < 1 || connections > maxConnections {
		return opts, fmt.Errorf("connections=%d: the number of connections must be from 1 to %d", connections, maxConnections)
	}
	opts.Connections = int(connections)
	if value, ok := p.Lookup("tcp-keepalive"); ok {
		on, err := server.ParseBool(value)
		if err != nil {
			return opts, fmt.Errorf("tcp-keepalive=%s: %w", value, err)
		}
		opts.TCPKeepAlive = -1
		if on {
			opts.TCPKeepAlive = tcpKeepAliveInterval
		}
	}
	noDelay, err := p.Bool("tcp-nodelay", true)
	if err != nil {
		return opts, err
	}
	opts.Nagle = !noDelay
	return opts, nil
}

// seconds returns the value of key, a whole number of seconds, or 0 if it was not
// given.
func seconds(p *server.Params, key string) (time.Duration, error) {
	n, err := p.Int64(key, 0)
	switch {
	case err != nil:
		return 0, err
	case n < 0:
		return 0, fmt.Errorf("%s=%d: a number of seconds cannot be negative", key, n)
	case n > int64(365*24*time.Hour/time.Second):
		return 0, fmt.Errorf("%s=%d: more than a year of seconds", key, n)
	}
	return time.Duration(n) * time.Second, nil
}

// refuseUnsupported refuses the parameters of nbdkit's plugin that gonbd's cannot honour,
// saying why, rather than let them pass unnoticed.
func refuseUnsupported(p *server.Params) error {
	if value, ok := p.Lookup("cookiejar"); ok {
		return fmt.Errorf("cookiejar=%s is not supported: gonbd cannot write the cookies back to a file (Go's cookie jar does not list what it holds); cookiefile=%s reads them and keeps those the server sets for the life of the process", value, value)
	}
	if value, ok := p.Lookup("tls13-ciphers"); ok {
		return fmt.Errorf("tls13-ciphers=%s is not supported: Go's crypto/tls does not let the TLS 1.3 cipher suites be chosen (it offers TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256); ssl-cipher-list= chooses those of TLS 1.2 and older", value)
	}
	return nil
}
