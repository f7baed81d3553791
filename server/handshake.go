package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// errAbort ends a handshake that the client ended itself.
var errAbort = errors.New("client aborted the handshake")

// metaContextID is the ID of base:allocation, the one meta context gonbd serves.
const metaContextID = 1

// handshake negotiates with the client until it has chosen an export, which it opens.
func (c *conn) handshake(ctx context.Context) error {
	c.nc.SetDeadline(time.Now().Add(c.s.opts.HandshakeTimeout))
	var err error
	if c.s.opts.Oldstyle {
		err = c.oldstyle(ctx)
	} else {
		err = c.newstyle(ctx)
	}
	c.nc.SetDeadline(time.Time{})
	if up, ok := c.nc.(*upgradableConn); ok && err == nil {
		up.startIdleWatch()
	}
	return err
}

func (c *conn) oldstyle(ctx context.Context) error {
	e, err := c.open(ctx, c.s.opts.ExportName)
	if err != nil {
		return err
	}
	c.exp = e
	_, err = c.nc.Write(protocol.AppendOldstyleGreeting(nil, uint64(e.size), 0, e.flags(false)))
	return err
}

func (c *conn) newstyle(ctx context.Context) error {
	hflags := (protocol.HandshakeFixedNewstyle | protocol.HandshakeNoZeroes) & c.s.opts.MaskHandshake
	if _, err := c.nc.Write(protocol.AppendNewstyleGreeting(c.scratch[:0], hflags)); err != nil {
		return err
	}
	var b [4]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		return fmt.Errorf("read client flags: %w", err)
	}
	cflags, _ := protocol.DecodeClientFlags(b[:])
	if unknown := cflags &^ protocol.ClientFlags(hflags); unknown != 0 {
		return fmt.Errorf("client flags %#x not offered", uint32(unknown))
	}
	fixed := cflags&protocol.ClientFixedNewstyle != 0
	c.noZeroes = cflags&protocol.ClientNoZeroes != 0

	for n := 0; ; n++ {
		if n == c.s.opts.MaxOptions {
			return fmt.Errorf("more than %d options", c.s.opts.MaxOptions)
		}
		var hb [protocol.OptionHeaderSize]byte
		if _, err := io.ReadFull(c.br, hb[:]); err != nil {
			return fmt.Errorf("read option: %w", err)
		}
		h, err := protocol.DecodeOptionHeader(hb[:], c.s.opts.MaxOptionLength)
		if err != nil {
			return err
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return fmt.Errorf("read %v payload: %w", h.Opt, err)
		}
		c.log.Debug("option", "opt", h.Opt, "length", h.Length)
		if !fixed && h.Opt != protocol.OptExportName {
			// Without fixed newstyle a client cannot read option replies.
			return fmt.Errorf("%v from a client without fixed newstyle", h.Opt)
		}
		if c.tlsRequired(h.Opt) {
			if err := c.refuseBeforeTLS(h.Opt); err != nil {
				return err
			}
			continue
		}
		done, err := c.option(ctx, h.Opt, payload)
		if err != nil || done {
			return err
		}
	}
}

// option answers one option, and reports whether the handshake is over (an export was
// chosen).
func (c *conn) option(ctx context.Context, opt protocol.Opt, p []byte) (done bool, err error) {
	switch opt {
	case protocol.OptExportName:
		if c.extended {
			return false, errors.New("NBD_OPT_EXPORT_NAME after extended headers")
		}
		if len(p) > protocol.MaxStringLength {
			return false, fmt.Errorf("export name of %d bytes", len(p))
		}
		e, err := c.open(ctx, string(p))
		if err != nil {
			return false, err // the option has no way to report an error but to hang up
		}
		c.exp = e
		_, err = c.nc.Write(protocol.AppendExportNameReply(c.scratch[:0], uint64(e.size), e.flags(c.structured), c.noZeroes))
		return true, err

	case protocol.OptAbort:
		c.reply(opt, protocol.RepAck, nil) // best effort: the client may be gone
		return false, errAbort

	case protocol.OptList:
		if len(p) != 0 {
			return false, c.replyError(opt, protocol.RepErrInvalid, "NBD_OPT_LIST takes no data")
		}
		// With the connection's info, so that layers know whether TLS is up.
		exports, err := c.s.top.ListExports(WithConnInfo(ctx, c.info), c.s.opts.ReadOnly)
		if err != nil {
			c.log.Info("list exports", "err", err)
			return false, c.replyError(opt, protocol.RepErrPlatform, "cannot list exports")
		}
		for _, e := range exports {
			if err := c.reply(opt, protocol.RepServer, protocol.AppendServerReply(nil, e.Name, e.Description)); err != nil {
				return false, err
			}
		}
		return false, c.reply(opt, protocol.RepAck, nil)

	case protocol.OptStartTLS:
		return false, c.startTLS(ctx, p)

	case protocol.OptInfo, protocol.OptGo:
		return c.infoOrGo(ctx, opt, p)

	case protocol.OptStructuredReply, protocol.OptExtendedHeaders:
		switch {
		case len(p) != 0:
			return false, c.replyError(opt, protocol.RepErrInvalid, opt.String()+" takes no data")
		case c.s.opts.NoStructuredReplies:
			return false, c.replyError(opt, protocol.RepErrUnsup, "structured replies are disabled")
		case opt == protocol.OptStructuredReply && c.extended:
			return false, c.replyError(opt, protocol.RepErrExtHeaderReqd, "extended headers are already in use")
		}
		if opt == protocol.OptExtendedHeaders {
			c.extended = true
		}
		c.structured = true
		return false, c.reply(opt, protocol.RepAck, nil)

	case protocol.OptListMetaContext, protocol.OptSetMetaContext:
		return false, c.metaContext(opt, p)

	default:
		return false, c.replyError(opt, protocol.RepErrUnsup, "unsupported option "+opt.String())
	}
}

// infoOrGo answers NBD_OPT_INFO and NBD_OPT_GO; after a successful GO the handshake is
// over.
func (c *conn) infoOrGo(ctx context.Context, opt protocol.Opt, p []byte) (done bool, err error) {
	req, err := protocol.DecodeInfoRequest(p, protocol.MaxStringLength)
	if err != nil {
		return false, c.replyError(opt, protocol.RepErrInvalid, err.Error())
	}
	e, err := c.open(ctx, req.Name)
	if err != nil {
		c.log.Info("open", "export", req.Name, "err", err)
		return false, c.replyError(opt, protocol.RepErrUnknown, "cannot open export: "+err.Error())
	}
	keep := false
	defer func() {
		if !keep {
			if err := e.close(ctx); err != nil {
				c.log.Info("close", "export", e.name, "err", err)
			}
		}
	}()

	reply := func(b []byte) error { return c.reply(opt, protocol.RepInfo, b) }
	if err := reply(protocol.AppendInfoExport(nil, uint64(e.size), e.flags(c.structured))); err != nil {
		return false, err
	}
	var sentName, sentDescription, sentBlockSize bool
	for _, info := range req.Infos {
		switch {
		case info == protocol.InfoName && !sentName:
			sentName = true
			err = reply(protocol.AppendInfoString(nil, protocol.InfoName, e.name))
		case info == protocol.InfoDescription && !sentDescription && e.description != "":
			sentDescription = true
			err = reply(protocol.AppendInfoString(nil, protocol.InfoDescription, e.description))
		case info == protocol.InfoBlockSize && !sentBlockSize:
			sentBlockSize = true
			err = reply(protocol.AppendInfoBlockSize(nil, e.blockSizeInfo()))
		}
		if err != nil {
			return false, err
		}
	}
	if !sentBlockSize {
		// Clients that did not ask still benefit from knowing the constraints.
		if err := reply(protocol.AppendInfoBlockSize(nil, e.blockSizeInfo())); err != nil {
			return false, err
		}
	}
	if err := c.reply(opt, protocol.RepAck, nil); err != nil {
		return false, err
	}
	if opt == protocol.OptInfo {
		return false, nil
	}
	if c.metaContexts && c.metaExport != req.Name {
		// Meta contexts chosen for another export do not carry over.
		c.metaContexts = false
	}
	keep = true
	c.exp = e
	return true, nil
}

func (e *export) blockSizeInfo() protocol.BlockSizeInfo {
	return protocol.BlockSizeInfo{Minimum: e.block.Minimum, Preferred: e.block.Preferred, Maximum: e.block.Maximum}
}

// metaContext answers NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. gonbd
// serves base:allocation only.
func (c *conn) metaContext(opt protocol.Opt, p []byte) error {
	set := opt == protocol.OptSetMetaContext
	if set {
		c.metaContexts = false // a failed SET clears the previous choice too
	}
	switch {
	case !c.structured:
		return c.replyError(opt, protocol.RepErrInvalid, "negotiate structured replies first")
	case c.s.opts.NoMetaContexts:
		return c.replyError(opt, protocol.RepErrUnsup, "meta contexts are disabled")
	}
	req, err := protocol.DecodeMetaContextRequest(p, protocol.MaxStringLength)
	if err != nil {
		return c.replyError(opt, protocol.RepErrInvalid, err.Error())
	}
	selected := false
	for _, q := range req.Queries {
		if q == protocol.MetaContextBaseAllocation || (!set && q == protocol.MetaNamespaceBase) {
			selected = true
		}
	}
	if !set && len(req.Queries) == 0 {
		selected = true // an empty list query asks for every context
	}
	if selected {
		// The ID in a LIST reply is reserved and should be zero.
		id := uint32(0)
		if set {
			id = metaContextID
		}
		if err := c.reply(opt, protocol.RepMetaContext, protocol.AppendMetaContextReply(nil, id, protocol.MetaContextBaseAllocation)); err != nil {
			return err
		}
		if set {
			c.metaContexts, c.metaExport = true, req.Name
		}
	}
	return c.reply(opt, protocol.RepAck, nil)
}

// open resolves the default export and opens it, with the connection's info in the
// context of every call.
func (c *conn) open(ctx context.Context, name string) (*export, error) {
	if name == "" {
		def, err := c.s.top.DefaultExport(WithConnInfo(ctx, c.info), c.s.opts.ReadOnly)
		if err != nil {
			return nil, fmt.Errorf("default export: %w", err)
		}
		name = def
	}
	c.info.ExportName = name
	return c.s.openExport(WithConnInfo(ctx, c.info), name)
}

// reply sends an option reply.
func (c *conn) reply(opt protocol.Opt, rep protocol.Rep, payload []byte) error {
	b := protocol.AppendOptionReplyHeader(c.scratch[:0], opt, rep, uint32(len(payload)))
	b = append(b, payload...)
	_, err := c.nc.Write(b)
	return err
}

// replyError sends an error reply with a message for people; the handshake goes on.
func (c *conn) replyError(opt protocol.Opt, rep protocol.Rep, message string) error {
	c.log.Debug("option refused", "opt", opt, "reply", rep, "why", message)
	if len(message) > protocol.MaxStringLength {
		message = message[:protocol.MaxStringLength]
	}
	return c.reply(opt, rep, []byte(message))
}
