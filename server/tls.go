package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/gonbd/gonbd/protocol"
)

// TLSMode says whether clients may or must use TLS (nbdkit --tls).
type TLSMode int

const (
	// TLSOff refuses NBD_OPT_STARTTLS: every connection is in plaintext.
	TLSOff TLSMode = iota
	// TLSOn lets each client choose: it may upgrade with NBD_OPT_STARTTLS or go on in
	// plaintext. Layers tell the two apart by [ConnInfo].TLS (the tls-fallback filter
	// serves plaintext clients a placeholder).
	TLSOn
	// TLSRequire refuses every option but NBD_OPT_STARTTLS and NBD_OPT_ABORT until TLS
	// is up (the specification's FORCEDTLS mode), so that a plaintext client learns
	// nothing: no export name, size, list or description.
	TLSRequire
)

func (m TLSMode) String() string {
	switch m {
	case TLSOff:
		return "off"
	case TLSOn:
		return "on"
	case TLSRequire:
		return "require"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// ParseTLSMode parses nbdkit's --tls values: off, on or require, and the booleans
// [ParseBool] takes for off and on.
func ParseTLSMode(s string) (TLSMode, error) {
	switch s {
	case "off":
		return TLSOff, nil
	case "on":
		return TLSOn, nil
	case "require":
		return TLSRequire, nil
	}
	on, err := ParseBool(s)
	if err != nil {
		return TLSOff, fmt.Errorf("%q is not off, on or require", s)
	}
	if on {
		return TLSOn, nil
	}
	return TLSOff, nil
}

// minTLSVersion is the oldest TLS the server speaks: the specification says 1.2 MUST be
// supported and older versions SHOULD NOT be by default. crypto/tls negotiates 1.3
// whenever the client has it.
const minTLSVersion = tls.VersionTLS12

// serverTLSConfig returns a copy of cfg that speaks TLS 1.2 at least, including the
// configurations its GetConfigForClient returns.
func serverTLSConfig(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	cfg.MinVersion = max(cfg.MinVersion, minTLSVersion)
	if get := cfg.GetConfigForClient; get != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if err != nil || c == nil || c.MinVersion >= minTLSVersion {
				return c, err
			}
			c = c.Clone()
			c.MinVersion = minTLSVersion
			return c, nil
		}
	}
	return cfg
}

// tlsRequired reports whether an option must be refused with NBD_REP_ERR_TLS_REQD: under
// TLSRequire, everything but STARTTLS and ABORT before TLS is up.
func (c *conn) tlsRequired(opt protocol.Opt) bool {
	return c.s.opts.TLS == TLSRequire && !c.info.TLS &&
		opt != protocol.OptStartTLS && opt != protocol.OptAbort
}

// refuseBeforeTLS answers an option sent before TLS to a server that requires it. The
// reply names nothing the client asked about. NBD_OPT_EXPORT_NAME has no error reply,
// so that client is hung up on.
func (c *conn) refuseBeforeTLS(opt protocol.Opt) error {
	if opt == protocol.OptExportName {
		return errors.New("NBD_OPT_EXPORT_NAME before STARTTLS on a server that requires TLS")
	}
	return c.replyError(opt, protocol.RepErrTLSReqd, "TLS is required: send NBD_OPT_STARTTLS first")
}

// startTLS answers NBD_OPT_STARTTLS and, when it accepts, upgrades the connection.
// A failed TLS handshake ends the connection: the acknowledgement has been sent, so
// there is no going back to plaintext.
func (c *conn) startTLS(ctx context.Context, p []byte) error {
	const opt = protocol.OptStartTLS
	up, _ := c.nc.(*upgradableConn)
	switch {
	case c.s.opts.TLS == TLSOff || up == nil:
		return c.replyError(opt, protocol.RepErrPolicy, "TLS is not enabled on this server")
	case len(p) != 0:
		return c.replyError(opt, protocol.RepErrInvalid, "NBD_OPT_STARTTLS takes no data")
	case c.info.TLS:
		return c.replyError(opt, protocol.RepErrInvalid, "TLS is already in use")
	}
	// Whatever the client sent after STARTTLS and before the TLS handshake came in
	// plaintext, where anyone on the path could have put it: drop it rather than read
	// it as options of the encrypted session (nbdkit 1.34's fix against option
	// injection).
	if n := c.br.Buffered(); n > 0 {
		c.log.Warn("dropping plaintext sent after NBD_OPT_STARTTLS", "bytes", n)
		c.br.Discard(n)
	}
	if err := c.reply(opt, protocol.RepAck, nil); err != nil {
		return err
	}
	tc := tls.Server(up.raw, c.s.opts.TLSConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	up.upgrade(tc)
	c.info.TLS = true
	// The specification: no negotiation state survives STARTTLS. What the client asked
	// for in plaintext may have been a man in the middle's doing (CVE-2021-3716).
	c.structured, c.extended = false, false
	c.metaContexts, c.metaExport = false, ""

	st := tc.ConnectionState()
	args := []any{"version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite)}
	if len(st.PeerCertificates) > 0 {
		args = append(args, "client", st.PeerCertificates[0].Subject.String())
	}
	c.log.Debug("TLS started", args...)
	return nil
}
