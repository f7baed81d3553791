package servertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// Timeout bounds what the helpers wait for: a server to stop, a client to finish.
const Timeout = 2 * time.Minute

// A Server is an engine serving a layer stack on a Unix socket until the test ends.
type Server struct {
	// Socket is the path of the Unix socket.
	Socket string
	// Engine is the running server.
	Engine *server.Server
	// Log holds what the server and its layers logged, at debug level and up.
	Log *LogBuffer

	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start serves layer with opts on a new Unix socket and stops it when the test ends.
// opts.Logger, when nil, is set to log into Server.Log.
func Start(t testing.TB, layer server.Layer, opts server.Options) *Server {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 { // sun_path holds 108 bytes
		var err error
		if dir, err = os.MkdirTemp("", "gonbd"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	s := &Server{Socket: filepath.Join(dir, "nbd.sock"), Log: &LogBuffer{}, t: t, done: make(chan error, 1)}
	if opts.Logger == nil {
		opts.Logger = s.Log.Logger()
	}
	ln, err := net.Listen("unix", s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if s.Engine, err = server.New(ctx, layer, opts); err != nil {
		cancel()
		ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	go func() { s.done <- s.Engine.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
	})
	return s
}

// StartStack builds a stack as the gonbd command does ([server.NewStack]) from a plugin,
// filters (the first closest to the client) and "key=value" parameters, and serves it.
// A parameter nothing uses fails the test.
func StartStack(t testing.TB, plugin server.PluginSpec, filters []server.FilterSpec, params ...string) *Server {
	t.Helper()
	layer, err := Stack(plugin, filters, params...)
	if err != nil {
		t.Fatal(err)
	}
	return Start(t, layer, server.Options{})
}

// Stack builds a stack as [StartStack] does, and returns the error the command line
// would report, to test parameters.
func Stack(plugin server.PluginSpec, filters []server.FilterSpec, params ...string) (server.Layer, error) {
	list := make([]server.Param, len(params))
	for i, kv := range params {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			if plugin.MagicConfigKey == "" {
				return nil, fmt.Errorf("servertest: parameter %q is not key=value", kv)
			}
			key, value = plugin.MagicConfigKey, kv
		}
		list[i] = server.Param{Key: key, Value: value}
	}
	return server.NewStack(plugin, filters, list, nil)
}

// Stop stops serving, waits for the connections to end and cleans the layers up. The
// test's cleanup calls it; calling it earlier (to check what Cleanup did) is fine.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		select {
		case err = <-s.done:
		case <-time.After(Timeout):
			err = fmt.Errorf("servertest: Serve did not return within %v of being stopped", Timeout)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if cerr := s.Engine.Close(ctx); err == nil {
			err = cerr
		}
	})
	return err
}

// URI returns the NBD URI of the default export, for the clients.
func (s *Server) URI() string { return s.ExportURI("") }

// ExportURI returns the NBD URI of the export called name.
func (s *Server) ExportURI(name string) string {
	u := url.URL{Scheme: "nbd+unix", Path: "/" + name, RawQuery: "socket=" + url.QueryEscape(s.Socket)}
	return u.String()
}

// Dial connects the pure-Go client to the default export and closes it when the test
// ends.
func (s *Server) Dial(t testing.TB) *client.Conn {
	t.Helper()
	return s.DialExport(t, "")
}

// DialExport connects the pure-Go client to the export called name.
func (s *Server) DialExport(t testing.TB, name string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := client.Dial(ctx, "unix", s.Socket, &client.Options{ExportName: name})
	if err != nil {
		t.Fatalf("dial %s: %v", s.ExportURI(name), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// LogBuffer collects a server's log; it is safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a logger writing text lines into l, from debug level up.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
