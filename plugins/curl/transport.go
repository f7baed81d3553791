package curl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"time"
)

// idleConnTimeout is how long a connection to the server may stay unused in the pool
// before it is closed.
const idleConnTimeout = 90 * time.Second

// newClient returns the HTTP client of the plugin: a pool of at most opts.Connections
// keep-alive connections, shared by every NBD connection.
func newClient(opts *Options) (*http.Client, *http.Transport, error) {
	tlsCfg, err := tlsConfig(opts)
	if err != nil {
		return nil, nil, err
	}
	proxy, err := proxyFunc(opts)
	if err != nil {
		return nil, nil, err
	}
	transport := &http.Transport{
		Proxy:               proxy,
		DialContext:         dialFunc(opts),
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: connectTimeout,
		MaxConnsPerHost:     opts.Connections,
		MaxIdleConnsPerHost: opts.Connections,
		IdleConnTimeout:     idleConnTimeout,
		// Ranges are of the object's bytes: a compressed answer would be of others.
		DisableCompression: true,
		// libcurl speaks HTTP/2 to HTTPS servers that offer it, and so does this.
		ForceAttemptHTTP2: true,
	}
	client := &http.Client{Transport: transport, CheckRedirect: redirectPolicy(opts)}
	if opts.CookieEngine {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, nil, err
		}
		if opts.CookieFile != "" {
			if err := loadCookieFile(jar, opts.CookieFile); err != nil {
				return nil, nil, fmt.Errorf("cookiefile=%s: %w", opts.CookieFile, err)
			}
		}
		client.Jar = jar
	}
	return client, transport, nil
}

// dialFunc returns how the transport connects: to UnixSocketPath whatever the address
// when there is one, else by TCP, with the keepalive and Nagle settings of opts.
func dialFunc(opts *Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: opts.TCPKeepAlive}
	if opts.UnixSocketPath != "" {
		path := opts.UnixSocketPath
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
	}
	nagle := opts.Nagle
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil || !nagle {
			return c, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			if err := tc.SetNoDelay(false); err != nil {
				c.Close()
				return nil, fmt.Errorf("enabling Nagle's algorithm: %w", err)
			}
		}
		return c, nil
	}
}

// proxyFunc returns the transport's Proxy function for opts.
func proxyFunc(opts *Options) (func(*http.Request) (*url.URL, error), error) {
	switch {
	case opts.UnixSocketPath != "" || opts.NoProxy:
		// libcurl ignores proxies for Unix sockets as well.
		return nil, nil
	case opts.Proxy == "":
		if opts.ProxyUser == "" && opts.ProxyPassword == "" {
			return http.ProxyFromEnvironment, nil
		}
		// Credentials for the environment's proxy.
		return func(req *http.Request) (*url.URL, error) {
			u, err := http.ProxyFromEnvironment(req)
			if u == nil || err != nil {
				return u, err
			}
			withCredentials := *u
			withCredentials.User = url.UserPassword(opts.ProxyUser, opts.ProxyPassword)
			return &withCredentials, nil
		}, nil
	}
	raw := opts.Proxy
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // libcurl's default proxy scheme
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("proxy=%s: %w", redactedURL(opts.Proxy), urlParseReason(err))
	}
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return nil, fmt.Errorf("proxy=%s: %s proxies are not supported (Go's HTTP client speaks to http://, https:// and socks5:// proxies)", u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("proxy=%s: the proxy URL names no host", u.Redacted())
	}
	if opts.ProxyUser != "" || opts.ProxyPassword != "" {
		u.User = url.UserPassword(opts.ProxyUser, opts.ProxyPassword)
	}
	return http.ProxyURL(u), nil
}

// errRedirect marks the errors of the redirect policy, which no retry can cure.
var errRedirect = errors.New("redirect refused")

// redirectPolicy returns the client's CheckRedirect: no redirects with
// NoFollowRedirects, else up to maxRedirects of them, to the protocols allowed.
func redirectPolicy(opts *Options) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from := via[len(via)-1].URL.Redacted()
		switch {
		case opts.NoFollowRedirects:
			return fmt.Errorf("%w: %s redirects to %s, and followlocation=false", errRedirect, from, req.URL.Redacted())
		case len(via) > maxRedirects:
			return fmt.Errorf("%w: more than %d redirects, the last from %s to %s", errRedirect, maxRedirects, from, req.URL.Redacted())
		case !slices.Contains(speaks, req.URL.Scheme):
			return fmt.Errorf("%w: %s redirects to %s: %w", errRedirect, from, req.URL.Redacted(), errUnsupportedScheme(req.URL.Scheme))
		case !slices.Contains(opts.Protocols, req.URL.Scheme):
			return fmt.Errorf("%w: %s redirects to %s, whose protocol %s is not allowed (protocols=%s)", errRedirect, from, req.URL.Redacted(), req.URL.Scheme, strings.Join(opts.Protocols, ","))
		}
		return nil
	}
}
