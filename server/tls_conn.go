package server

import (
	"log/slog"
	"math"
	"net"
	"sync/atomic"
	"time"
)

// An upgradableConn is a client connection that NBD_OPT_STARTTLS can switch to TLS in
// the middle of the handshake, and whose traffic the idle timeout watches.
//
// The connection's reader and writer hold it from the start and never change, even
// when TLS starts: the switch is one atomic store, so that goroutines already using the
// connection (the shutdown hook that sets deadlines) never see a half-written value.
type upgradableConn struct {
	raw  net.Conn
	cur  atomic.Pointer[connRef] // raw, then the TLS connection over it
	idle *idleWatch              // nil without an idle timeout
}

type connRef struct{ net.Conn }

// guardConn returns c wrapped for STARTTLS and the idle timeout when the options ask for
// either, else c itself: the net package's own connections write vectors in one system
// call, which a wrapper cannot.
func (s *Server) guardConn(c net.Conn, log *slog.Logger) net.Conn {
	if s.opts.TLS == TLSOff && s.opts.IdleTimeout == 0 {
		return c
	}
	u := &upgradableConn{raw: c}
	u.cur.Store(&connRef{c})
	if s.opts.IdleTimeout > 0 {
		u.idle = newIdleWatch(s.opts.IdleTimeout, func(idle time.Duration) {
			log.Info("closing an idle connection", "idle", idle.Round(time.Millisecond))
			// Stop reading: the requests in flight still get their replies, then the
			// connection ends as when the client disconnects.
			c.SetReadDeadline(time.Now())
		})
	}
	return u
}

// upgrade switches the connection to tc, a TLS connection over raw that finished its
// handshake.
func (u *upgradableConn) upgrade(tc net.Conn) { u.cur.Store(&connRef{tc}) }

// startIdleWatch starts the idle timeout; the handshake has a deadline of its own.
func (u *upgradableConn) startIdleWatch() {
	if u.idle != nil {
		u.idle.start()
	}
}

func (u *upgradableConn) Read(p []byte) (int, error) {
	n, err := u.cur.Load().Read(p)
	if n > 0 && u.idle != nil {
		u.idle.touch()
	}
	return n, err
}

func (u *upgradableConn) Write(p []byte) (int, error) {
	n, err := u.cur.Load().Write(p)
	if n > 0 && u.idle != nil {
		u.idle.touch()
	}
	return n, err
}

// Close ends TLS (sending close_notify) and closes the connection.
func (u *upgradableConn) Close() error {
	if u.idle != nil {
		u.idle.stop()
	}
	return u.cur.Load().Close()
}

func (u *upgradableConn) LocalAddr() net.Addr  { return u.raw.LocalAddr() }
func (u *upgradableConn) RemoteAddr() net.Addr { return u.raw.RemoteAddr() }

// The deadlines are the raw connection's, which TLS reads and writes through.
func (u *upgradableConn) SetDeadline(t time.Time) error      { return u.raw.SetDeadline(t) }
func (u *upgradableConn) SetReadDeadline(t time.Time) error  { return u.raw.SetReadDeadline(t) }
func (u *upgradableConn) SetWriteDeadline(t time.Time) error { return u.raw.SetWriteDeadline(t) }

// An idleWatch calls onIdle once no traffic was seen for timeout.
type idleWatch struct {
	timeout time.Duration
	last    atomic.Int64 // when traffic was last seen, in Unix nanoseconds
	timer   *time.Timer
	onIdle  func(idle time.Duration)
}

func newIdleWatch(timeout time.Duration, onIdle func(time.Duration)) *idleWatch {
	w := &idleWatch{timeout: timeout, onIdle: onIdle}
	// Created stopped in effect, so that check never runs before timer is set.
	w.timer = time.AfterFunc(math.MaxInt64, w.check)
	return w
}

func (w *idleWatch) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *idleWatch) start() {
	w.touch()
	w.timer.Reset(w.timeout)
}

func (w *idleWatch) stop() { w.timer.Stop() }

// check runs when the timer fires: traffic since it was set moves the deadline on.
func (w *idleWatch) check() {
	idle := time.Since(time.Unix(0, w.last.Load()))
	if idle >= w.timeout {
		w.onIdle(idle)
		return
	}
	w.timer.Reset(w.timeout - idle)
}
