package server

import (
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
	return o
}
