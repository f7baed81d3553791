package curl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Options say which remote object the plugin serves and how it talks to the web server.
// URL is required; the zero value of every other field is its default, written in its
// comment.
type Options struct {
	// URL is the http:// or https:// URL of the object to serve. A user name and
	// password in it are sent with HTTP basic authentication, unless User or
	// Password override them.
	URL string

	// User and Password are sent with HTTP basic authentication, to the URL's host
	// only (not to the hosts of redirects elsewhere). Password alone needs a user
	// name, in User or in the URL.
	User, Password string

	// Headers are sent with every request, each written as nbdkit's header=
	// parameter: "Name: value" adds a header (replacing one the plugin would send
	// by itself, such as User-Agent or Authorization), "Name:" removes a header the
	// plugin would send, and "Name;" sends a header with an empty value.
	Headers []string
	// HeaderScript is a shell script whose standard output gives the headers, one
	// a line in the syntax of Headers, instead of Headers. It runs before the first
	// request and again whenever HeaderScriptRenew has passed since its last run
	// (never again when HeaderScriptRenew is zero), with $iteration (0 the first
	// time) and $url in its environment.
	HeaderScript      string
	HeaderScriptRenew time.Duration

	// Cookie is sent as the Cookie header of every request: "name=value", several
	// separated by "; ".
	Cookie string
	// CookieScript is a shell script whose first line of output is the Cookie,
	// instead of Cookie; it runs as HeaderScript does.
	CookieScript      string
	CookieScriptRenew time.Duration
	// CookieEngine keeps the cookies the server sets (for example while following
	// redirects) and sends them back, as a browser would, for the life of the
	// process. CookieFile implies it.
	CookieEngine bool
	// CookieFile is a file of cookies to start with, in the Netscape format that
	// curl and wget write (or lines "Set-Cookie: ..."). It is read once, by New.
	CookieFile string

	// UserAgent is the User-Agent header. Default: none is sent.
	UserAgent string

	// CAFile is a PEM file of the certificate authorities to trust instead of the
	// system's. CAPath is a directory of PEM files of authorities to trust in
	// addition (to the system's, or to CAFile's). NoSystemCAs trusts neither the
	// system's authorities nor CAFile's (nbdkit's cainfo= with an empty value),
	// only CAPath's.
	CAFile      string
	CAPath      string
	NoSystemCAs bool
	// InsecureSkipVerify accepts any certificate from the server (sslverify=false),
	// which leaves the connection open to a man in the middle.
	InsecureSkipVerify bool
	// MinTLSVersion is the oldest TLS version accepted, such as tls.VersionTLS13.
	// Default: Go's (TLS 1.2).
	MinTLSVersion uint16
	// CipherSuites are the cipher suites offered for TLS 1.2 and older, in
	// order of preference. Default: Go's. (Go does not let TLS 1.3's be chosen.)
	CipherSuites []uint16

	// NoFollowRedirects fails requests that the server redirects instead of following
	// the redirect (followlocation=false). Redirects are followed up to ten times.
	NoFollowRedirects bool
	// Protocols are the URL schemes allowed, also for redirects. Default: http and
	// https.
	Protocols []string

	// Proxy is the URL of the proxy: http://, https:// or socks5:// (a bare
	// host:port means http://). Default: the proxy that the environment names
	// (HTTP_PROXY, HTTPS_PROXY and NO_PROXY), as libcurl does; NoProxy uses none
	// at all. ProxyUser and ProxyPassword authenticate to the proxy.
	Proxy                    string
	NoProxy                  bool
	ProxyUser, ProxyPassword string

	// UnixSocketPath makes every connection to the server on this Unix domain
	// socket, whatever host and port the URL names (the URL still gives the Host
	// header and the name TLS expects).
	UnixSocketPath string

	// Connections is how many connections the plugin opens to the server at most,
	// shared by all NBD clients; as many requests are in flight at once. Default 4.
	Connections int
	// Timeout bounds each HTTP request, from connecting to reading the last byte of
	// the answer. Default: none (but connecting gives up after 300 seconds, as
	// libcurl does).
	Timeout time.Duration
	// TCPKeepAlive is the interval of TCP keepalive probes: zero means Go's default
	// (15 seconds), negative none.
	TCPKeepAlive time.Duration
	// Nagle enables Nagle's algorithm on the connections (tcp-nodelay=false).
	Nagle bool

	// Retries is how many times a request that failed for a reason that may pass
	// (a 5xx, 408 or 429 status, a dropped connection, an answer cut short, a
	// timeout) is tried again, after a pause of RetryDelay that doubles each time
	// up to 5 seconds. Default 4 retries and 100 ms; a negative Retries means none.
	Retries    int
	RetryDelay time.Duration

	// Logger receives the plugin's logs. Default: discard them.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	defaultConnections = 4
	maxConnections     = 1024
	defaultRetries     = 4
	defaultRetryDelay  = 100 * time.Millisecond
	maxRetryDelay      = 5 * time.Second
	maxRedirects       = 10
	// connectTimeout is libcurl's default bound on connecting.
	connectTimeout = 300 * time.Second
)

// speaks are the URL schemes the plugin can fetch.
var speaks = []string{"http", "https"}

// withDefaults returns opts with every default filled in and the URL parsed, or an
// error saying which fields are wrong or contradict each other. It is the one place
// that interprets zero values.
func (opts Options) withDefaults() (Options, *url.URL, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Connections == 0:
		opts.Connections = defaultConnections
	case opts.Connections < 0 || opts.Connections > maxConnections:
		return opts, nil, fmt.Errorf("connections=%d: the number of connections must be from 1 to %d", opts.Connections, maxConnections)
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = defaultRetries
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = defaultRetryDelay
	}
	if opts.Timeout < 0 {
		return opts, nil, fmt.Errorf("timeout=%v: the timeout cannot be negative", opts.Timeout)
	}
	if opts.HeaderScriptRenew < 0 || opts.CookieScriptRenew < 0 {
		return opts, nil, errors.New("the renewal interval of a script cannot be negative")
	}
	protocols, err := checkProtocols(opts.Protocols)
	if err != nil {
		return opts, nil, err
	}
	opts.Protocols = protocols
	if opts.MinTLSVersion != 0 && (opts.MinTLSVersion < tls.VersionTLS10 || opts.MinTLSVersion > tls.VersionTLS13) {
		return opts, nil, fmt.Errorf("unknown TLS version %#x", opts.MinTLSVersion)
	}
	if opts.CookieFile != "" {
		opts.CookieEngine = true
	}
	if opts.HeaderScript != "" && len(opts.Headers) > 0 {
		return opts, nil, errors.New("header-script= and header= cannot be used together: the script's output replaces the headers")
	}
	if opts.CookieScript != "" && opts.Cookie != "" {
		return opts, nil, errors.New("cookie-script= and cookie= cannot be used together: the script's output replaces the cookie")
	}
	u, err := opts.parseURL()
	if err != nil {
		return opts, nil, err
	}
	if opts.Password != "" && opts.User == "" && u.User == nil {
		return opts, nil, errors.New("password= needs a user name, in user= or in the URL")
	}
	return opts, u, nil
}

// parseURL checks the URL: present, absolute, of a scheme the plugin speaks and
// Protocols allows, with a host.
func (opts *Options) parseURL() (*url.URL, error) {
	if opts.URL == "" {
		return nil, errors.New("missing required parameter url: give the URL of the disk image, e.g. url=https://example.com/disk.img")
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("url=%s: %w", redactedURL(opts.URL), urlParseReason(err))
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return nil, fmt.Errorf("url=%s: not an absolute URL (expected http://HOST/PATH or https://HOST/PATH)", u.Redacted())
	case !slices.Contains(speaks, scheme):
		return nil, fmt.Errorf("url=%s: %w", u.Redacted(), errUnsupportedScheme(scheme))
	case !slices.Contains(opts.Protocols, scheme):
		return nil, fmt.Errorf("url=%s: the %s protocol is not allowed by protocols=%s", u.Redacted(), scheme, strings.Join(opts.Protocols, ","))
	case u.Host == "":
		return nil, fmt.Errorf("url=%s: the URL names no host", u.Redacted())
	}
	return u, nil
}

// urlParseReason returns why url.Parse failed without the URL, which may hold a
// password.
func urlParseReason(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// errUnsupportedScheme explains that a URL scheme libcurl knows is not one gonbd
// speaks, with a better plugin when there is one.
func errUnsupportedScheme(scheme string) error {
	advice := ""
	switch scheme {
	case "file":
		advice = "; serve local files with the file plugin"
	case "sftp", "scp":
		advice = "; use the ssh plugin"
	case "nbd", "nbds", "nbd+unix", "nbds+unix":
		advice = "; use the nbd plugin"
	}
	return fmt.Errorf("gonbd's curl plugin speaks HTTP and HTTPS only, not %s (nbdkit's, built on libcurl, speaks more)%s", scheme, advice)
}

// redactedURL returns raw with any password in it replaced by "xxxxx", for messages,
// even when raw does not parse.
func redactedURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return raw
}

// curlProtocols are the protocols libcurl knows, which nbdkit's protocols= accepts.
// gonbd speaks two of them; the others may be named, to no effect but refusing them.
var curlProtocols = []string{
	"dict", "file", "ftp", "ftps", "gopher", "gophers", "http", "https", "imap", "imaps",
	"ldap", "ldaps", "mqtt", "pop3", "pop3s", "rtmp", "rtmpe", "rtmps", "rtmpt",
	"rtmpte", "rtmpts", "rtsp", "scp", "sftp", "smb", "smbs", "smtp", "smtps",
	"telnet", "tftp",
}

// checkProtocols returns the allowed protocols in lower case, http and https when
// none are named, or an error naming one libcurl does not know.
func checkProtocols(names []string) ([]string, error) {
	if len(names) == 0 {
		return speaks, nil
	}
	protocols := make([]string, len(names))
	for i, name := range names {
		protocols[i] = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(curlProtocols, protocols[i]) {
			return nil, fmt.Errorf("protocols=%s: unknown protocol %q (known: %s)", strings.Join(names, ","), name, strings.Join(curlProtocols, ", "))
		}
	}
	return protocols, nil
}
