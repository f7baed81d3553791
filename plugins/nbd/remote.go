package nbd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
)

// remote is how the plugin reaches the server: where to connect, how often to try, and
// with which TLS settings.
type remote struct {
	tlsMode   TLSMode     // TLSOff, TLSOn or TLSRequire
	tlsConfig *tls.Config // nil when tlsMode is TLSOff
	retry     int
	interval  time.Duration
	log       *slog.Logger

	mu sync.Mutex
	// network and address are what to dial; both are empty for a socket-fd
	// connection, and for a Command until it runs.
	network, address string
	conn             net.Conn // the socket-fd connection, until it is used
}

// newRemote works out from opts (already checked by withDefaults) where the server is
// and how to talk to it, and returns the export to open there.
func newRemote(opts *Options) (*remote, string, error) {
	r := &remote{
		tlsMode:  opts.TLS,
		retry:    opts.Retry,
		interval: opts.RetryInterval,
		log:      opts.Logger,
		conn:     opts.Conn,
	}
	export := opts.Export
	serverName := "" // the name the server's certificate must bear, if known
	tlsFiles := tlsFiles{dir: opts.TLSCertificates, noVerify: opts.TLSNoVerify}
	switch {
	case opts.URI != "":
		u, err := client.ParseURI(opts.URI)
		if err != nil {
			// The client's error repeats the URI after its own prefix.
			if cause := errors.Unwrap(err); cause != nil {
				err = cause
			}
			return nil, "", fmt.Errorf("uri=%s: %w", opts.URI, err)
		}
		if u.Network() == "vsock" {
			return nil, "", errVsock
		}
		r.network, r.address = u.Network(), u.Address()
		if opts.Export != "" && opts.Export != u.Export {
			r.log.Warn("the URI names the export to open; export= only names the default export", "uri_export", u.Export, "export", opts.Export)
		}
		export = u.Export
		if u.TLS() {
			r.tlsMode = TLSRequire
		}
		serverName = u.Host
		if err := tlsFiles.fromURI(u); err != nil {
			return nil, "", err
		}
		if name := u.Params.Get("tls-hostname"); name != "" {
			serverName = name
		}
	case opts.Socket != "":
		r.network, r.address = "unix", opts.Socket
	case opts.Hostname != "":
		port := opts.Port
		if port == "" {
			port = strconv.Itoa(client.DefaultPort)
		}
		r.network, r.address = "tcp", net.JoinHostPort(opts.Hostname, port)
		serverName = opts.Hostname
	}

	if r.tlsMode == TLSDefault {
		r.tlsMode = TLSOff
		if opts.TLSConfig != nil || tlsFiles.dir != "" || tlsFiles.noVerify {
			r.tlsMode = TLSOn
		}
	}
	if r.tlsMode != TLSOff {
		cfg := opts.TLSConfig
		if cfg == nil {
			var err error
			if cfg, err = tlsFiles.config(); err != nil {
				return nil, "", err
			}
		}
		r.tlsConfig = clientTLSConfig(cfg, serverName)
	}
	return r, export, nil
}

// errVsock refuses vsock servers, which the client cannot dial.
var errVsock = errors.New("vsock servers are not supported: gonbd's NBD client cannot connect over AF_VSOCK")

// useCommandSocket points the remote at the socket a Command listens on.
func (r *remote) useCommandSocket(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.network, r.address = "unix", path
}

// String describes the server for messages.
func (r *remote) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.network == "" {
		return "the server on socket-fd"
	}
	return r.network + " " + r.address
}

// dial opens a byte stream to the server.
func (r *remote) dial(ctx context.Context) (net.Conn, error) {
	r.mu.Lock()
	network, address, conn := r.network, r.address, r.conn
	r.conn = nil
	r.mu.Unlock()
	if network == "" {
		if conn == nil {
			return nil, errors.New("the socket-fd connection was used already and cannot be opened again")
		}
		return conn, nil
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// redialable reports whether dial can be called again after a failure.
func (r *remote) redialable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.network != ""
}

// close closes the socket-fd connection if it was never used.
func (r *remote) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
}

// connect opens export on the server, trying again as retry says.
func (r *remote) connect(ctx context.Context, export string) (*client.Conn, error) {
	var c *client.Conn
	err := r.withRetry(ctx, func() error {
		n, err := r.negotiate(ctx)
		if err != nil {
			return err
		}
		if c, err = n.Go(ctx, export); err != nil {
			n.Abort()
			return fmt.Errorf("opening export %q: %w", export, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.log.Debug("connected", "server", r.String(), "export", export, "size", c.Size(),
		"flags", c.Flags(), "tls", c.TLS(), "structured_replies", c.StructuredReplies(),
		"extended_headers", c.ExtendedHeaders())
	return c, nil
}

// query negotiates with the server, lets ask use the negotiation (to list exports, say)
// and ends it without opening an export, trying again as retry says.
func (r *remote) query(ctx context.Context, ask func(*client.Negotiator) error) error {
	return r.withRetry(ctx, func() error {
		n, err := r.negotiate(ctx)
		if err != nil {
			return err
		}
		defer n.Abort()
		return ask(n)
	})
}

// withRetry calls attempt until it succeeds or the retries are spent, pausing
// r.interval between calls, and returns the last error, explained.
func (r *remote) withRetry(ctx context.Context, attempt func() error) error {
	for tries := 0; ; tries++ {
		err := attempt()
		if err == nil {
			return nil
		}
		err = r.explain(err)
		if tries >= r.retry || ctx.Err() != nil || !r.redialable() {
			return err
		}
		r.log.Debug("connecting failed; trying again", "err", err, "retries_left", r.retry-tries)
		t := time.NewTimer(r.interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to try again after: %w)", ctx.Err(), err)
		}
	}
}

// negotiate dials the server and negotiates what applies to every export. Under
// tls=on, a server that refuses TLS is dialed again and spoken to in clear text.
func (r *remote) negotiate(ctx context.Context) (*client.Negotiator, error) {
	n, err := r.handshake(ctx, r.tlsConfig)
	if err != nil && r.tlsMode == TLSOn && startTLSRefused(err) && r.redialable() {
		r.log.Info("the server does not offer TLS; going on without it, as tls=on allows", "server", r.String())
		n, err = r.handshake(ctx, nil)
	}
	return n, err
}

func (r *remote) handshake(ctx context.Context, cfg *tls.Config) (*client.Negotiator, error) {
	nc, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	n, err := client.Handshake(ctx, nc, &client.Options{TLSConfig: cfg})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return n, nil
}

// startTLSRefused reports whether err is the server's refusal of NBD_OPT_STARTTLS.
func startTLSRefused(err error) bool {
	var refused *client.OptionError
	return errors.As(err, &refused) && refused.Option == protocol.OptStartTLS
}

// explain prefixes err with the server's address and adds the hint a user needs
// when TLS is at fault.
func (r *remote) explain(err error) error {
	var refused *client.OptionError
	switch {
	case errors.As(err, &refused) && refused.Reply == protocol.RepErrTLSReqd && r.tlsMode == TLSOff:
		return fmt.Errorf("connecting to %v: the server requires TLS (add tls=require): %w", r, err)
	case startTLSRefused(err) && r.tlsMode == TLSRequire:
		return fmt.Errorf("connecting to %v: the server does not offer TLS, which tls=require (or an nbds URI) demands: %w", r, err)
	}
	return fmt.Errorf("connecting to %v: %w", r, err)
}
