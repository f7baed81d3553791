package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// Options configure a [Server]. The zero value works: each field's comment gives its
// default, and [Options.withDefaults] is the one place that fills and clamps them.
type Options struct {
	// Logger receives the server's logs. Default: discard them.
	Logger *slog.Logger

	// Threads is how many requests of one connection may be served at once (nbdkit -t).
	// Default 16.
	Threads int

	// ReadOnly serves every export read-only (nbdkit -r).
	ReadOnly bool

	// Oldstyle uses the oldstyle handshake (nbdkit -o), which serves ExportName only.
	// Default: fixed newstyle.
	Oldstyle bool

	// ExportName is the export the oldstyle handshake serves. Newstyle clients name
	// their own.
	ExportName string

	// NoStructuredReplies refuses structured replies and extended headers, so clients
	// get simple replies only (nbdkit --no-sr).
	NoStructuredReplies bool

	// NoMetaContexts refuses meta contexts, so clients cannot ask for block status
	// (nbdkit --no-mc).
	NoMetaContexts bool

	// MaskHandshake keeps only these bits of the newstyle handshake flags (nbdkit
	// --mask-handshake). Default: all of them (set MaskHandshakeSet to use 0).
	MaskHandshake    protocol.HandshakeFlags
	MaskHandshakeSet bool

	// HandshakeTimeout bounds the whole handshake, so that a silent client cannot hold
	// a connection (nbdkit --timeout). Default 60s.
	HandshakeTimeout time.Duration

	// MaxOptionLength is the largest option payload accepted; larger ones end the
	// connection. Default 64 KiB, room for a 4 KiB name and many meta context queries.
	MaxOptionLength uint32

	// MaxOptions is how many options a client may send before it chooses an export.
	// Default 256.
	MaxOptions int

	// MaxPayload is the largest read or write accepted, advertised as the maximum
	// block size. Default 32 MiB, the size the specification says clients may assume.
	// Clamped to [64 KiB, 1 GiB].
	MaxPayload uint32

	// MaxInFlightBytes caps the payload bytes of one connection's requests in flight;
	// the server stops reading requests when it is reached. Default 4 × MaxPayload.
	MaxInFlightBytes int64

	// Keepalive enables TCP keepalives on accepted connections (nbdkit --keepalive).
	Keepalive bool

	// TLS says whether clients may or must upgrade to TLS with NBD_OPT_STARTTLS
	// (nbdkit --tls). Default TLSOff: STARTTLS is refused. TLSOn and TLSRequire need
	// TLSConfig; TLSRequire cannot be combined with Oldstyle, which has no options.
	TLS TLSMode

	// TLSConfig is the server side of TLS: certificates, and client certificate checks
	// for --tls-verify-peer. The server uses a copy raised to TLS 1.2 at least (1.3 is
	// preferred whenever the client has it); to change certificates while serving, set
	// GetConfigForClient, as [TLSCertificates.Config] does.
	TLSConfig *tls.Config

	// IdleTimeout ends a connection that has not sent a request or been sent a reply
	// for this long once in the transmission phase: the server stops reading, answers
	// the requests in flight and closes it. Default 0: no limit. Choose a value longer
	// than the slowest request, during which the connection is silent.
	IdleTimeout time.Duration
}

// withDefaults returns o with every unset field given its default and every field
// clamped to what the engine supports.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Threads <= 0 {
		o.Threads = 16
	}
	if !o.MaskHandshakeSet {
		o.MaskHandshake = protocol.HandshakeFixedNewstyle | protocol.HandshakeNoZeroes
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 60 * time.Second
	}
	if o.MaxOptionLength == 0 {
		o.MaxOptionLength = 64 << 10
	}
	// A name of the longest length the specification allows must fit.
	o.MaxOptionLength = max(o.MaxOptionLength, protocol.MaxStringLength+8)
	if o.MaxOptions <= 0 {
		o.MaxOptions = 256
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = protocol.DefaultMaxPayload
	}
	o.MaxPayload = min(max(o.MaxPayload, 64<<10), 1<<30)
	if o.MaxInFlightBytes <= 0 {
		o.MaxInFlightBytes = 4 * int64(o.MaxPayload)
	}
	o.MaxInFlightBytes = max(o.MaxInFlightBytes, int64(o.MaxPayload))
	if o.TLS != TLSOff && o.TLSConfig != nil {
		o.TLSConfig = serverTLSConfig(o.TLSConfig)
	}
	o.IdleTimeout = max(o.IdleTimeout, 0)
	return o
}

// check reports options that cannot work together. It runs after withDefaults.
func (o Options) check() error {
	switch {
	case o.TLS < TLSOff || o.TLS > TLSRequire:
		return fmt.Errorf("server: unknown TLS mode %d", int(o.TLS))
	case o.TLS != TLSOff && o.TLSConfig == nil:
		return fmt.Errorf("server: TLS %v needs Options.TLSConfig (certificates)", o.TLS)
	case o.TLS == TLSRequire && o.Oldstyle:
		return errors.New("server: the oldstyle handshake has no STARTTLS, so it cannot require TLS")
	}
	return nil
}
