package curl

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gonbd/gonbd/server"
)

// Plugin serves one object from a web server, read with HTTP range requests. It keeps
// a pool of connections to the server that every NBD connection shares.
type Plugin struct {
	opts Options
	log  *slog.Logger
	// url is what requests ask for: Options.URL without the credentials, which go
	// in the Authorization header. display is the same for messages.
	url, display string
	client       *http.Client
	transport    *http.Transport
	// slots holds a token for each request in flight, so that requests beyond
	// Options.Connections wait here, where their context can end the wait.
	slots     chan struct{}
	templates *templates
}

// New checks opts, reads the files they name (certificates, cookies) and returns the
// plugin. It does not connect: that happens when a client opens the export, as in
// nbdkit, so that a server down at start-up does not stop gonbd.
func New(opts Options) (*Plugin, error) {
	opts, u, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.HeaderScript != "" || opts.CookieScript != "" {
		if err := checkShell(); err != nil {
			return nil, err
		}
	}
	edits, err := parseHeaders(opts.Headers)
	if err != nil {
		return nil, err
	}
	own := credentials{userAgent: opts.UserAgent, cookie: opts.Cookie}
	if user, password, ok := userAndPassword(&opts, u); ok {
		own.basicAuth = basicAuthorization(user, password)
	}
	u.User = nil
	client, transport, err := newClient(&opts)
	if err != nil {
		return nil, err
	}
	return &Plugin{
		opts:      opts,
		log:       opts.Logger,
		url:       u.String(),
		display:   u.Redacted(),
		client:    client,
		transport: transport,
		slots:     make(chan struct{}, opts.Connections),
		templates: newTemplates(&opts, own, edits),
	}, nil
}

// userAndPassword returns the credentials of basic authentication: User and Password,
// or the URL's where they are not set, and whether there are any.
func userAndPassword(opts *Options, u *url.URL) (user, password string, ok bool) {
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	if opts.User != "" {
		user = opts.User
	}
	if opts.Password != "" {
		password = opts.Password
	}
	return user, password, user != ""
}

// Open finds the object's size, and that the server serves ranges of it, for a new
// client connection. A server that cannot tell either refuses the client.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	size, err := p.probe(ctx)
	if err != nil {
		return nil, err
	}
	return &handle{plugin: p, size: size}, nil
}

// Cleanup closes the idle connections of the pool.
func (p *Plugin) Cleanup(ctx context.Context) {
	p.transport.CloseIdleConnections()
}

// acquire waits for a free connection slot, or for ctx to end.
func (p *Plugin) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Plugin) release() { <-p.slots }
