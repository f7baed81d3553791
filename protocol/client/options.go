package client

import (
	"crypto/tls"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// Options configure a connection. The zero value (and a nil *Options) works: it
// negotiates the best the server offers for the default export.
type Options struct {
	// ExportName is the export Dial and NewConn select. The default, "", is the
	// server's default export. DialURI takes the name from the URI instead.
	ExportName string

	// TLSConfig, when set, makes the client upgrade the connection with
	// NBD_OPT_STARTTLS before any other option and fail if the server refuses. Dial
	// fills in ServerName from the address when the config leaves it empty. The
	// default, nil, is a connection without TLS.
	TLSConfig *tls.Config

	// DisableStructuredReplies makes the client ask for neither structured replies nor
	// extended headers (and so for no meta contexts): the server answers with simple
	// replies only. For testing fallbacks; the default is to ask.
	DisableStructuredReplies bool
	// DisableExtendedHeaders makes the client skip NBD_OPT_EXTENDED_HEADERS and start
	// with NBD_OPT_STRUCTURED_REPLY. The default is to ask for extended headers first.
	DisableExtendedHeaders bool
	// DisableMetaContexts makes the client skip NBD_OPT_SET_META_CONTEXT, so that
	// BlockStatus is unavailable. The default is to select MetaContexts.
	DisableMetaContexts bool

	// MetaContexts are the queries of NBD_OPT_SET_META_CONTEXT. The default, nil,
	// selects base:allocation.
	MetaContexts []string
	// InfoRequests are the information types asked for with NBD_OPT_GO and
	// NBD_OPT_INFO (the server always sends NBD_INFO_EXPORT). The default, nil, asks for
	// the block size, the canonical name and the description; an empty non-nil slice
	// asks for nothing more. Asking for NBD_INFO_BLOCK_SIZE promises the server that
	// requests obey its block size constraints (Conn.BlockSize), a promise the caller
	// keeps: the client does not align requests.
	InfoRequests []protocol.Info

	// HandshakeTimeout bounds the handshake, from the greeting to the transmission
	// phase, on top of any context deadline. The default, 0, means 30 seconds; a
	// negative value means no bound.
	HandshakeTimeout time.Duration

	// MaxReplyPayload is the largest reply chunk payload the client allocates memory
	// for (block status and error chunks); a bigger one is skipped unread, failing its
	// request. Read data goes into the caller's buffer and is bounded by the request
	// instead. The default, 0, means 32 MiB plus 64 KiB of slack for chunk
	// headers, the most a server may send without being asked for more.
	MaxReplyPayload uint64

	// MaxInFlight is the most requests a Conn has outstanding at once; more wait for a
	// free slot. The default, 0, means 64.
	MaxInFlight int
}

// Defaults for the zero Options.
const (
	defaultHandshakeTimeout = 30 * time.Second
	defaultMaxReplyPayload  = protocol.DefaultMaxPayload + 64<<10
	defaultMaxInFlight      = 64
)

// withDefaults returns a copy of o (which may be nil) with every default filled in. It
// is the one place that interprets zero values.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.MetaContexts == nil {
		r.MetaContexts = []string{protocol.MetaContextBaseAllocation}
	}
	if r.InfoRequests == nil {
		r.InfoRequests = []protocol.Info{protocol.InfoBlockSize, protocol.InfoName, protocol.InfoDescription}
	}
	if r.HandshakeTimeout == 0 {
		r.HandshakeTimeout = defaultHandshakeTimeout
	}
	if r.MaxReplyPayload == 0 {
		r.MaxReplyPayload = defaultMaxReplyPayload
	}
	if r.MaxInFlight <= 0 {
		r.MaxInFlight = defaultMaxInFlight
	}
	if r.DisableStructuredReplies {
		r.DisableExtendedHeaders = true
		r.DisableMetaContexts = true
	}
	return r
}
