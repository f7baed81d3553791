package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A Server serves the exports of a [Layer] stack to NBD clients.
type Server struct {
	top  Layer
	opts Options
	log  *slog.Logger

	// threadModel is the stack's; threads is how many requests of one connection
	// run at once under it.
	threadModel ThreadModel
	threads     int
	// connSlot admits one connection at a time under SerializeConnections.
	connSlot chan struct{}
	// requestMu serializes every request under SerializeAllRequests.
	requestMu sync.Mutex

	buffers *bufferPool
	lastID  atomic.Uint64
	conns   sync.WaitGroup
	closed  atomic.Bool

	// shutdownCtx is canceled when a layer calls [Shutdown].
	shutdownCtx    context.Context
	shutdownCancel context.CancelFunc
}

// New returns a server for the layer stack top (a plugin adapted by [PluginLayer], maybe
// wrapped by filters). It gets the stack ready (Layer.GetReady) first, so that
// configuration errors surface before any client connects.
func New(ctx context.Context, top Layer, opts Options) (*Server, error) {
	if top == nil {
		return nil, errors.New("server: no layer to serve")
	}
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	s := &Server{
		top:         top,
		opts:        opts,
		log:         opts.Logger,
		threadModel: top.ThreadModel(),
		threads:     opts.Threads,
		buffers:     newBufferPool(opts.MaxPayload),
	}
	s.shutdownCtx, s.shutdownCancel = context.WithCancel(context.Background())
	ctx = withControl(ctx, s, nil)
	if s.threadModel < Parallel {
		s.threads = 1
	}
	if s.threadModel == SerializeConnections {
		s.connSlot = make(chan struct{}, 1)
	}
	// The plugin's errors come labelled with its name; a filter's say what they are
	// about themselves (the top layer's name would blame the wrong layer).
	if err := top.GetReady(ctx); err != nil {
		return nil, err
	}
	s.log.Debug("server ready", "layer", top.Name(), "thread_model", s.threadModel, "threads", s.threads)
	return s, nil
}

// Serve accepts connections on ln and serves each on its own goroutine until ctx is
// canceled; then it stops accepting, lets the requests in flight finish, closes the
// connections and returns nil. Serve may be called for several listeners at once. It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnShutdown := context.AfterFunc(s.shutdownCtx, cancel)
	defer stopOnShutdown()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	var conns sync.WaitGroup
	defer conns.Wait()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		delay = 0
		conns.Add(1)
		go func() {
			defer conns.Done()
			if err := s.ServeConn(ctx, c); err != nil {
				s.log.Debug("connection ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// ServeConn serves one connection until the client disconnects or ctx is canceled, and
// closes it. The error says why a connection ended other than by the client's
// NBD_CMD_DISC or ctx.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) error {
	s.conns.Add(1)
	defer s.conns.Done()
	defer c.Close()
	if s.closed.Load() {
		return errors.New("server: closed")
	}
	if s.opts.Keepalive {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetKeepAlive(true)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnShutdown := context.AfterFunc(s.shutdownCtx, cancel)
	defer stopOnShutdown()
	ctx = withControl(ctx, s, nil)
	info := ConnInfo{
		ID:       s.lastID.Add(1),
		Local:    c.LocalAddr(),
		Remote:   c.RemoteAddr(),
		Accepted: time.Now(),
		Peer:     peerCred(c),
		ReadOnly: s.opts.ReadOnly,
	}
	log := s.log.With("conn", info.ID)
	if err := s.top.Preconnect(WithConnInfo(ctx, info), info); err != nil {
		log.Info("preconnect refused the client", "remote", info.Remote, "err", err)
		return err
	}
	if s.connSlot != nil {
		select {
		case s.connSlot <- struct{}{}:
			defer func() { <-s.connSlot }()
		case <-ctx.Done():
			return nil
		}
	}
	nc := s.guardConn(c, log)
	defer nc.Close() // for TLS, sends close_notify before c closes
	conn := newConn(s, nc, info, log)
	return conn.serve(ctx)
}

// Close waits for every connection to end and then cleans the layers up
// (Layer.Cleanup). Call it once, after the last Serve or ServeConn returned or their
// context was canceled.
func (s *Server) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return errors.New("server: already closed")
	}
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("server: close: %w", ctx.Err())
	}
	s.top.Cleanup(withControl(ctx, s, nil))
	s.shutdownCancel()
	return nil
}
