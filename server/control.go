package server

import (
	"context"
	"time"
)

// controlKey is the context key of the server, and connection, a call is made for.
type controlKey struct{}

// control is what a layer may ask of the server behind its context: nbdkit's
// nbdkit_shutdown and nbdkit_disconnect.
type control struct {
	s *Server
	c *conn // nil outside a connection's handshake and transmission
}

func withControl(ctx context.Context, s *Server, c *conn) context.Context {
	return context.WithValue(ctx, controlKey{}, control{s: s, c: c})
}

// Shutdown asks the server whose call ctx belongs to to shut down, as SIGTERM would:
// it stops accepting connections, answers the requests in flight, closes every
// connection and cleans the layers up. It returns at once, and reports whether ctx came
// from a server (every context the server passes to a layer does, from GetReady on).
// The exitlast and exitwhen filters use it; it is nbdkit's nbdkit_shutdown.
func Shutdown(ctx context.Context) bool {
	ctl, ok := ctx.Value(controlKey{}).(control)
	if !ok {
		return false
	}
	ctl.s.shutdown()
	return true
}

// Disconnect ends the connection whose call ctx belongs to, as nbdkit_disconnect does.
// With force, the socket is closed at once and the replies in flight are lost;
// otherwise the server reads no further request, answers those in flight, then closes
// the connection. It returns at once, and reports whether ctx belongs to a connection.
func Disconnect(ctx context.Context, force bool) bool {
	ctl, ok := ctx.Value(controlKey{}).(control)
	if !ok || ctl.c == nil {
		return false
	}
	if force {
		ctl.c.nc.Close()
	} else {
		// Stop the reader now rather than when the cancellation's callback runs, so
		// that no request the client sends after this call is read.
		ctl.c.nc.SetReadDeadline(time.Now())
		ctl.c.cancel()
	}
	return true
}

// ShutdownRequested returns a channel closed once a layer called [Shutdown]. Serve
// returns then by itself; a program that waits on something else (signals, a captive
// command) selects on it too.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdownCtx.Done() }

func (s *Server) shutdown() {
	s.log.Info("a layer asked the server to shut down")
	s.shutdownCancel()
}

// A PeerCred is what the kernel says about the process at the other end of a Unix
// socket (SO_PEERCRED on Linux).
type PeerCred struct {
	PID, UID, GID int
	// SecurityLabel is the peer's security context (SO_PEERSEC, an SELinux or
	// AppArmor label), empty when the kernel has none.
	SecurityLabel string
}
