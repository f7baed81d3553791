package nbd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// Plugin forwards every client's requests to another NBD server: each client connection
// gets a connection of its own to that server, or shares the plugin's one (Shared).
type Plugin struct {
	opts   Options
	log    *slog.Logger
	remote *remote
	// export is the export opened on the server unless DynamicExport.
	export string

	mu      sync.Mutex
	shared  *client.Conn   // the shared connection, once open
	command *serverCommand // the running Command, once started
	closed  bool           // Cleanup ran
}

// New checks opts and returns the plugin. It does not connect yet: that happens at
// GetReady for a shared connection, at Open otherwise.
func New(opts Options) (*Plugin, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		if opts.Conn != nil {
			opts.Conn.Close()
		}
		return nil, err
	}
	p := &Plugin{opts: opts, log: opts.Logger}
	if p.remote, p.export, err = newRemote(&opts); err != nil {
		if opts.Conn != nil {
			opts.Conn.Close()
		}
		return nil, err
	}
	return p, nil
}

// GetReady starts the Command, if any, and opens the shared connection when the
// plugin has one, so that a server that cannot be reached stops gonbd from starting.
func (p *Plugin) GetReady(ctx context.Context) error {
	if !p.opts.Shared {
		return nil
	}
	_, err := p.sharedConn(ctx)
	return err
}

// Open returns a handle on the export: on the shared connection, or on a new
// connection to the server, which is opened now (trying again as Retry says).
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	if p.opts.Shared {
		c, err := p.sharedConn(ctx)
		if err != nil {
			return nil, err
		}
		return newHandle(c, true, p.log), nil
	}
	export := p.export
	if p.opts.DynamicExport {
		export = req.ExportName
	}
	c, err := p.remote.connect(ctx, export)
	if err != nil {
		return nil, err
	}
	return newHandle(c, false, p.log), nil
}

// sharedConn returns the shared connection, opening it (and starting the Command)
// on first use.
func (p *Plugin) sharedConn(ctx context.Context) (*client.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, server.Errorf(syscall.ESHUTDOWN, "the plugin was cleaned up")
	}
	if p.shared != nil {
		return p.shared, nil
	}
	if len(p.opts.Command) > 0 && p.command == nil {
		cmd, err := startCommand(p.opts.Command, p.opts.Stderr, p.log)
		if err != nil {
			return nil, err
		}
		p.command = cmd
		p.remote.useCommandSocket(cmd.socket)
	}
	c, err := p.remote.connect(ctx, p.export)
	if err != nil {
		if p.command != nil {
			err = p.command.explain(err)
		}
		return nil, err
	}
	p.shared = c
	return c, nil
}

// ListExports lists the server's exports with DynamicExport, and otherwise the
// default export alone, as nbdkit does.
func (p *Plugin) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	if !p.opts.DynamicExport {
		return []server.Export{{Name: p.opts.Export}}, nil
	}
	var listed []client.Export
	err := p.remote.query(ctx, func(n *client.Negotiator) (err error) {
		listed, err = n.List(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the server's exports: %w", err)
	}
	exports := make([]server.Export, len(listed))
	for i, e := range listed {
		exports[i] = server.Export{Name: e.Name, Description: e.Description}
	}
	return exports, nil
}

// DefaultExport names the default export: with DynamicExport the name the server
// gives its own default export, otherwise Options.Export, as nbdkit does.
func (p *Plugin) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	if !p.opts.DynamicExport {
		return p.opts.Export, nil
	}
	name := ""
	err := p.remote.query(ctx, func(n *client.Negotiator) error {
		info, err := n.Info(ctx, "")
		var refused *client.OptionError
		switch {
		case errors.As(err, &refused):
			// A server that cannot say (an old one without NBD_OPT_INFO, or one
			// without a default export) keeps the name "".
			return nil
		case err != nil:
			return err
		}
		name = info.Name
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("asking the server for its default export: %w", err)
	}
	return name, nil
}

// disconnectTimeout bounds how long Cleanup waits for the replies to requests still in
// flight on the shared connection before it closes it.
const disconnectTimeout = 5 * time.Second

// Cleanup closes the shared connection and stops the Command.
func (p *Plugin) Cleanup(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.shared != nil {
		// Requests abandoned by clients that went away may still be in flight; a
		// server that never answers them must not hold the shutdown.
		ctx, cancel := context.WithTimeout(ctx, disconnectTimeout)
		defer cancel()
		if err := p.shared.Disconnect(ctx); err != nil && !errors.Is(err, client.ErrClosed) {
			p.log.Debug("closing the shared connection", "err", err)
		}
	}
	p.remote.close()
	if p.command != nil {
		p.command.stop(ctx)
	}
}

// DumpPlugin reports the features of the client, under the names nbdkit's nbd plugin
// uses for libnbd's, so that scripts that test for them work: TLS with X.509
// certificates, URIs and export listing, but not vsock.
func (p *Plugin) DumpPlugin(w io.Writer) {
	fmt.Fprint(w, "libnbd_tls=1\nlibnbd_uri=1\nlibnbd_vsock=0\nlibnbd_dynamic_list=1\n")
}
