package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Dial connects to the NBD server at address on the named network ("tcp", "unix", ...,
// as net.Dial takes them), negotiates, and selects opts.ExportName. A nil opts is the
// zero Options. When opts.TLSConfig leaves ServerName empty, Dial takes it from the
// host in address, as tls.Dial does.
func Dial(ctx context.Context, network, address string, opts *Options) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("nbd: %w", err)
	}
	return NewConn(ctx, nc, withServerName(opts, network, address))
}

// DialURI connects to the export an NBD URI names (see [ParseURI]). The export name
// comes from the URI and overrides opts.ExportName. An nbds URI requires
// opts.TLSConfig, which the caller builds (from the URI's tls-* parameters if it
// wishes); a tls-hostname parameter fills in its ServerName when that is empty.
// vsock URIs are not supported: dial the socket yourself and use NewConn.
func DialURI(ctx context.Context, uri string, opts *Options) (*Conn, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	o := opts.clone()
	o.ExportName = u.Export
	if u.TLS() && o.TLSConfig == nil {
		return nil, fmt.Errorf("nbd: %s URIs require TLS: set Options.TLSConfig", u.Scheme)
	}
	if h := u.Params.Get("tls-hostname"); h != "" && o.TLSConfig != nil && o.TLSConfig.ServerName == "" {
		o.TLSConfig = withName(o.TLSConfig, h)
	}
	if u.Network() == "vsock" {
		return nil, fmt.Errorf("nbd: %s URIs are not supported by Dial: connect with AF_VSOCK yourself and use NewConn: %w", u.Scheme, errors.ErrUnsupported)
	}
	return Dial(ctx, u.Network(), u.Address(), o)
}

// NewConn negotiates over nc, an established connection (a socket pair, a connection
// from a custom dialer), and selects opts.ExportName. The Conn owns nc from then on; on
// error NewConn closes nc.
func NewConn(ctx context.Context, nc net.Conn, opts *Options) (*Conn, error) {
	n, err := Handshake(ctx, nc, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c, err := n.Go(ctx, n.opts.ExportName)
	if err != nil {
		n.Abort()
		return nil, err
	}
	return c, nil
}

// List connects to the server, asks for its exports with NBD_OPT_LIST and ends the
// negotiation without selecting any.
func List(ctx context.Context, network, address string, opts *Options) ([]Export, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("nbd: %w", err)
	}
	n, err := Handshake(ctx, nc, withServerName(opts, network, address))
	if err != nil {
		nc.Close()
		return nil, err
	}
	defer n.Abort()
	return n.List(ctx)
}

// clone returns a copy of o that the caller may change; nil gives the zero Options.
func (o *Options) clone() *Options {
	var c Options
	if o != nil {
		c = *o
	}
	return &c
}

// withServerName returns opts with the TLS server name taken from a TCP address when
// the TLS configuration has none and verifies the server.
func withServerName(opts *Options, network, address string) *Options {
	if opts == nil || opts.TLSConfig == nil || opts.TLSConfig.ServerName != "" ||
		opts.TLSConfig.InsecureSkipVerify || !strings.HasPrefix(network, "tcp") {
		return opts
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return opts
	}
	o := opts.clone()
	o.TLSConfig = withName(opts.TLSConfig, host)
	return o
}

func withName(cfg *tls.Config, name string) *tls.Config {
	cfg = cfg.Clone()
	cfg.ServerName = name
	return cfg
}
