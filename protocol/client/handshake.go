package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// Handshake reads the server's greeting on nc and negotiates what applies to every
// export: TLS when opts.TLSConfig is set, then extended headers or, failing that,
// structured replies, unless opts disable them. The caller goes on with the
// Negotiator's methods; on error the caller still owns nc and closes it.
func Handshake(ctx context.Context, nc net.Conn, opts *Options) (_ *Negotiator, err error) {
	n := &Negotiator{raw: nc, nc: nc, opts: opts.withDefaults()}
	if t := n.opts.HandshakeTimeout; t > 0 {
		n.deadline = time.Now().Add(t)
	}
	defer n.guard(ctx)(&err)

	var greeting [protocol.OldstyleGreetingSize]byte
	if err := n.read(greeting[:16]); err != nil {
		return nil, fmt.Errorf("nbd: reading the greeting: %w", err)
	}
	oldstyle, err := protocol.DecodeGreetingStart(greeting[:16])
	if err != nil {
		return nil, err
	}
	if oldstyle {
		if err := n.oldstyleHandshake(greeting[:]); err != nil {
			return nil, err
		}
		return n, nil
	}
	if err := n.read(greeting[16:protocol.NewstyleGreetingSize]); err != nil {
		return nil, fmt.Errorf("nbd: reading the greeting: %w", err)
	}
	hflags, err := protocol.DecodeNewstyleGreeting(greeting[:protocol.NewstyleGreetingSize])
	if err != nil {
		return nil, err
	}
	// Answer with the flags the server offers and we understand: both make life
	// simpler, and a server refuses flags it does not know.
	var cflags protocol.ClientFlags
	if hflags&protocol.HandshakeFixedNewstyle != 0 {
		cflags |= protocol.ClientFixedNewstyle
		n.fixedNewstyle = true
	}
	if hflags&protocol.HandshakeNoZeroes != 0 {
		cflags |= protocol.ClientNoZeroes
		n.noZeroes = true
	}
	if err := n.write(protocol.AppendClientFlags(nil, cflags)); err != nil {
		return nil, fmt.Errorf("nbd: sending client flags: %w", err)
	}
	if !n.fixedNewstyle {
		if n.opts.TLSConfig != nil {
			return nil, errors.New("nbd: TLS required by Options.TLSConfig, but the server does not speak fixed newstyle, which TLS needs")
		}
		return n, nil
	}
	if n.opts.TLSConfig != nil {
		if err := n.startTLS(ctx); err != nil {
			return nil, err
		}
	}
	if err := n.negotiateReplies(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Negotiator) oldstyleHandshake(greeting []byte) error {
	if err := n.read(greeting[16:]); err != nil {
		return fmt.Errorf("nbd: reading the oldstyle greeting: %w", err)
	}
	g, err := protocol.DecodeOldstyleGreeting(greeting)
	if err != nil {
		return err
	}
	if n.opts.TLSConfig != nil {
		return errors.New("nbd: TLS required by Options.TLSConfig, but the server uses the oldstyle handshake, which has no TLS")
	}
	n.oldstyle, n.oldstyleGreeting = true, g
	return nil
}

// startTLS upgrades the connection; it must come before any stateful option, since the
// server forgets them all when TLS starts.
func (n *Negotiator) startTLS(ctx context.Context) error {
	if err := n.simpleOption(protocol.OptStartTLS); err != nil {
		return fmt.Errorf("nbd: TLS required by Options.TLSConfig, but STARTTLS failed: %w", err)
	}
	tc := tls.Client(n.nc, n.opts.TLSConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		return n.fail(fmt.Errorf("nbd: TLS handshake: %w", err))
	}
	n.nc, n.tls = tc, true
	return nil
}

// negotiateReplies asks for extended headers, then for structured replies, each unless
// disabled, and settles for what the server grants.
func (n *Negotiator) negotiateReplies() error {
	if !n.opts.DisableExtendedHeaders {
		ok, err := n.optionalOption(protocol.OptExtendedHeaders)
		if err != nil {
			return err
		}
		n.extended, n.structured = ok, ok
	}
	if !n.structured && !n.opts.DisableStructuredReplies {
		ok, err := n.optionalOption(protocol.OptStructuredReply)
		if err != nil {
			return err
		}
		n.structured = ok
	}
	return nil
}

// optionalOption sends an option without payload that the server may refuse. A refusal
// is no error, except NBD_REP_ERR_TLS_REQD: then no option can succeed.
func (n *Negotiator) optionalOption(opt protocol.Opt) (granted bool, err error) {
	err = n.simpleOption(opt)
	var oe *OptionError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &oe) && oe.Reply != protocol.RepErrTLSReqd:
		return false, nil
	case oe != nil:
		return false, fmt.Errorf("%w (set Options.TLSConfig)", err)
	}
	return false, err
}

// guard bounds the I/O of one negotiation step by ctx and the handshake deadline, and
// says so in the error when one of them interrupted it. Use: defer n.guard(ctx)(&err).
func (n *Negotiator) guard(ctx context.Context) func(*error) {
	deadline := n.deadline
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	n.raw.SetDeadline(deadline)
	// A deadline in the past wakes up blocked I/O when ctx is canceled.
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		n.raw.SetDeadline(time.Unix(1, 0))
		close(woken)
	})
	return func(errp *error) {
		if !stop() {
			<-woken // let it finish before the deadline is cleared
		}
		n.raw.SetDeadline(time.Time{})
		switch {
		case *errp == nil:
		case ctx.Err() != nil:
			*errp = fmt.Errorf("%w: %w", ctx.Err(), *errp)
		case errors.Is(*errp, os.ErrDeadlineExceeded) && !n.deadline.IsZero() && !time.Now().Before(n.deadline):
			*errp = fmt.Errorf("nbd: handshake timed out after %v: %w", n.opts.HandshakeTimeout, *errp)
		}
	}
}
