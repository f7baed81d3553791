package client

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gonbd/gonbd/protocol"
)

// DefaultPort is the TCP port (and vsock port) of NBD when a URI names none.
const DefaultPort = 10809

// A URI is a parsed NBD URI, as https://github.com/NetworkBlockDevice/nbd/blob/master/doc/uri.md
// defines them:
//
//	nbd://example.com:10809/export
//	nbds://[2001:db8::1]/export?tls-hostname=example.com
//	nbd+unix:///export?socket=/run/nbd.sock
//	nbd+vsock://2:10809/export
type URI struct {
	// Scheme is one of nbd, nbds, nbd+unix, nbds+unix, nbd+vsock and nbds+vsock. The
	// "s" schemes require TLS.
	Scheme string
	// User is the user name of the authority, for the TLS authentication methods that
	// need one.
	User string
	// Host is the host name or IP address (an IPv6 address without brackets) of a TCP
	// URI, or the context ID of a vsock URI. It is empty for Unix sockets.
	Host string
	// Port is the decimal port; empty means DefaultPort.
	Port string
	// Export is the export name: the path without its leading slash, percent-decoded.
	Export string
	// Socket is the path of the Unix domain socket, from the socket query parameter.
	// A leading NUL byte names a socket in the abstract namespace.
	Socket string
	// Params holds the other query parameters: the tls-* parameters of the
	// specification (tls-type, tls-hostname, tls-verify-peer) and of common clients
	// (tls-certificates, tls-psk-file, tls-username), and experimental x-* ones. The
	// client does not act on them beyond tls-hostname; a caller building a TLS
	// configuration reads them here.
	Params url.Values
}

// schemeTransport maps each scheme to its network and whether it requires TLS.
func schemeTransport(scheme string) (network string, tls bool, ok bool) {
	switch scheme {
	case "nbd":
		return "tcp", false, true
	case "nbds":
		return "tcp", true, true
	case "nbd+unix":
		return "unix", false, true
	case "nbds+unix":
		return "unix", true, true
	case "nbd+vsock":
		return "vsock", false, true
	case "nbds+vsock":
		return "vsock", true, true
	}
	return "", false, false
}

// knownParams are the query parameters besides socket that ParseURI accepts; others
// must start with "x-", as the specification asks parsers to diagnose the rest.
var knownParams = []string{
	"tls-certificates", "tls-hostname", "tls-psk-file", "tls-type", "tls-username", "tls-verify-peer",
}

// ParseURI parses an NBD URI. It rejects what the specification says a URI must not
// be: an unknown scheme, a Unix socket URI without a socket parameter, a TCP URI
// without a host, an export name with a NUL byte, unknown query parameters other than
// experimental x-* ones, and a tls-verify-peer other than 0 or 1.
func ParseURI(s string) (*URI, error) {
	u, err := parseURI(s)
	if err != nil {
		return nil, fmt.Errorf("nbd: parsing URI %q: %w", s, err)
	}
	return u, nil
}

func parseURI(s string) (*URI, error) {
	p, err := url.Parse(s)
	if err != nil {
		return nil, errors.Unwrap(err) // url.Error repeats the URI we name already
	}
	network, _, ok := schemeTransport(p.Scheme)
	if !ok {
		if p.Scheme == "" {
			return nil, errors.New("no scheme")
		}
		return nil, fmt.Errorf("unknown scheme %q", p.Scheme)
	}
	if p.Opaque != "" {
		return nil, errors.New("the scheme must be followed by //")
	}
	if p.Fragment != "" {
		return nil, errors.New("NBD URIs have no fragment")
	}
	u := &URI{Scheme: p.Scheme, Host: p.Hostname(), Port: p.Port()}
	if p.User != nil {
		if _, has := p.User.Password(); has {
			return nil, errors.New("a password does not belong in a URI")
		}
		u.User = p.User.Username()
	}
	if err := u.checkAuthority(network); err != nil {
		return nil, err
	}

	if p.Path != "" && p.Path[0] != '/' {
		return nil, errors.New("the export name must follow a /")
	}
	u.Export = strings.TrimPrefix(p.Path, "/")
	if strings.IndexByte(u.Export, 0) >= 0 {
		return nil, errors.New("the export name contains a NUL byte")
	}
	if len(u.Export) > protocol.MaxStringLength {
		return nil, fmt.Errorf("export name of %d bytes, longer than %d", len(u.Export), protocol.MaxStringLength)
	}

	if err := u.parseQuery(p.RawQuery, network); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *URI) checkAuthority(network string) error {
	switch network {
	case "tcp":
		if u.Host == "" {
			return errors.New("no host")
		}
		if u.Port != "" {
			if n, err := strconv.ParseUint(u.Port, 10, 16); err != nil || n == 0 {
				return fmt.Errorf("bad TCP port %q", u.Port)
			}
		}
	case "unix":
		if u.Host != "" || u.Port != "" || u.User != "" {
			return errors.New("a Unix socket URI has no authority: name the socket with ?socket=")
		}
	case "vsock":
		if _, err := strconv.ParseUint(u.Host, 10, 32); err != nil {
			return fmt.Errorf("bad vsock context ID %q", u.Host)
		}
		if u.Port != "" {
			if _, err := strconv.ParseUint(u.Port, 10, 32); err != nil {
				return fmt.Errorf("bad vsock port %q", u.Port)
			}
		}
	}
	return nil
}

func (u *URI) parseQuery(raw, network string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return fmt.Errorf("query parameter %q given %d times", k, len(vs))
		}
		switch {
		case k == "socket":
			if network != "unix" {
				return fmt.Errorf("socket parameter in a %s URI", u.Scheme)
			}
			u.Socket = vs[0]
		case k == "tls-verify-peer" && vs[0] != "0" && vs[0] != "1":
			return fmt.Errorf("tls-verify-peer=%q, want 0 or 1", vs[0])
		case slices.Contains(knownParams, k) || strings.HasPrefix(k, "x-"):
			if u.Params == nil {
				u.Params = url.Values{}
			}
			u.Params[k] = vs
		default:
			return fmt.Errorf("unknown query parameter %q", k)
		}
	}
	if network == "unix" && u.Socket == "" {
		return fmt.Errorf("a %s URI needs a socket parameter", u.Scheme)
	}
	return nil
}

// TLS reports whether the scheme requires TLS.
func (u *URI) TLS() bool {
	_, tls, _ := schemeTransport(u.Scheme)
	return tls
}

// Network returns the network to dial: "tcp", "unix" or "vsock".
func (u *URI) Network() string {
	network, _, _ := schemeTransport(u.Scheme)
	return network
}

// Address returns the address to dial on Network: host:port with the default port
// filled in, the socket path (with an abstract socket's leading NUL written as @, as
// package net wants it), or cid:port.
func (u *URI) Address() string {
	port := u.Port
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	switch u.Network() {
	case "unix":
		if strings.HasPrefix(u.Socket, "\x00") {
			return "@" + u.Socket[1:]
		}
		return u.Socket
	case "vsock":
		return u.Host + ":" + port
	default:
		return net.JoinHostPort(u.Host, port)
	}
}

// String reassembles the URI. Parsing the result gives back an equal URI. The export
// name is percent-encoded where RFC 3986 requires it; the query has the socket first and
// the other parameters sorted.
func (u *URI) String() string {
	v := url.URL{Scheme: u.Scheme}
	if u.User != "" {
		v.User = url.User(u.User)
	}
	if u.Host != "" {
		v.Host = u.Host
		if strings.IndexByte(u.Host, ':') >= 0 {
			v.Host = "[" + u.Host + "]"
		}
		if u.Port != "" {
			v.Host += ":" + u.Port
		}
	}
	// A Unix socket URI keeps its / so that it reads nbd+unix:///export, not
	// nbd+unix:export.
	if u.Export != "" || u.Network() == "unix" {
		v.Path = "/" + u.Export
	}

	var q strings.Builder
	if u.Socket != "" {
		q.WriteString("socket=")
		q.WriteString(queryEscape(u.Socket))
	}
	for _, k := range slices.Sorted(maps.Keys(u.Params)) {
		for _, val := range u.Params[k] {
			if q.Len() > 0 {
				q.WriteByte('&')
			}
			q.WriteString(queryEscape(k))
			q.WriteByte('=')
			q.WriteString(queryEscape(val))
		}
	}
	v.RawQuery = q.String()
	return v.String()
}

// queryEscape percent-encodes s for a query parameter value, leaving alone the
// characters RFC 3986 allows there that do not separate or alter parameters, so that
// socket paths stay readable (socket=/run/nbd.sock).
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte("/:@!$'()*,;?", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
