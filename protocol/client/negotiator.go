package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// A Negotiator is a connection in the handshake phase, after the greeting and the
// negotiation of TLS, structured replies and extended headers. It can list the exports
// and their details, then enter the transmission phase with Go, or give up with Abort.
//
// A Negotiator is not safe for concurrent use. When a method fails with an
// [*OptionError] the negotiation can go on; after any other error only Abort is useful.
type Negotiator struct {
	raw      net.Conn // the connection as given, for deadlines
	nc       net.Conn // raw, or the TLS connection over it
	opts     Options
	deadline time.Time // the end of the handshake timeout; zero for none

	oldstyle         bool
	oldstyleGreeting protocol.OldstyleGreeting
	fixedNewstyle    bool // the server can take options other than NBD_OPT_EXPORT_NAME
	noZeroes         bool
	tls              bool
	structured       bool
	extended         bool

	err  error // sticky: the connection cannot be followed any more
	done bool  // Go succeeded or Abort was called
}

// ExportInfo describes an export, as NBD_OPT_INFO and NBD_OPT_GO report it.
type ExportInfo struct {
	// Name is the server's canonical name of the export, or the name asked for when
	// the server gave none.
	Name string
	// Description is text for a human, empty when the server gave none.
	Description string
	// Size is the size of the export in bytes.
	Size uint64
	// Flags are the transmission flags: what the export supports.
	Flags protocol.TransmissionFlags
	// BlockSize holds the server's size constraints, or the defaults the specification
	// sets when it gave none: minimum 1, preferred 4096, maximum payload 32 MiB.
	BlockSize protocol.BlockSizeInfo
}

// An Export is one entry of the server's export list.
type Export struct {
	Name        string
	Description string
}

// defaultBlockSize holds the constraints a server without NBD_INFO_BLOCK_SIZE supports.
func defaultBlockSize() protocol.BlockSizeInfo {
	return protocol.BlockSizeInfo{Minimum: 1, Preferred: 4096, Maximum: protocol.DefaultMaxPayload}
}

// StructuredReplies reports whether the server will send structured (or extended)
// replies.
func (n *Negotiator) StructuredReplies() bool { return n.structured }

// ExtendedHeaders reports whether extended headers were negotiated.
func (n *Negotiator) ExtendedHeaders() bool { return n.extended }

// TLS reports whether the connection was upgraded to TLS.
func (n *Negotiator) TLS() bool { return n.tls }

// Oldstyle reports whether the server used the oldstyle handshake, which has one
// unnamed export and no options: only Go works.
func (n *Negotiator) Oldstyle() bool { return n.oldstyle }

// List asks the server for its exports with NBD_OPT_LIST.
func (n *Negotiator) List(ctx context.Context) (_ []Export, err error) {
	if err := n.canSendOptions(protocol.OptList); err != nil {
		return nil, err
	}
	defer n.guard(ctx)(&err)
	if err := n.sendOption(protocol.OptList, nil); err != nil {
		return nil, err
	}
	var exports []Export
	for {
		h, p, err := n.readReply(protocol.OptList)
		if err != nil {
			return nil, err
		}
		switch {
		case h.Type == protocol.RepServer:
			name, desc, err := protocol.DecodeServerReply(p)
			if err != nil {
				return nil, n.fail(err)
			}
			exports = append(exports, Export{Name: name, Description: desc})
		case h.Type == protocol.RepAck:
			return exports, nil
		case h.Type.IsError():
			return nil, optionError(h, p)
		default:
			return nil, n.fail(protocolErrorf("%v reply to %v", h.Type, h.Opt))
		}
	}
}

// Info asks the server about an export with NBD_OPT_INFO, without leaving the
// handshake. It asks for the information types of Options.InfoRequests.
func (n *Negotiator) Info(ctx context.Context, name string) (_ *ExportInfo, err error) {
	if err := n.canSendOptions(protocol.OptInfo); err != nil {
		return nil, err
	}
	defer n.guard(ctx)(&err)
	return n.exportInfo(protocol.OptInfo, name)
}

// ListMetaContexts asks the server with NBD_OPT_LIST_META_CONTEXT which meta contexts
// of the export match the queries (such as "base:"), or all of them when there is
// none. It needs structured replies.
func (n *Negotiator) ListMetaContexts(ctx context.Context, export string, queries ...string) (_ []string, err error) {
	if err := n.canSendOptions(protocol.OptListMetaContext); err != nil {
		return nil, err
	}
	if !n.structured {
		return nil, errors.New("nbd: listing meta contexts needs structured replies, which were not negotiated")
	}
	defer n.guard(ctx)(&err)
	_, names, err := n.metaContextOption(protocol.OptListMetaContext, export, queries)
	return names, err
}

// Go selects the export and enters the transmission phase: it selects the meta
// contexts of Options.MetaContexts when structured replies were negotiated, then sends
// NBD_OPT_GO, or NBD_OPT_EXPORT_NAME to servers without it. The name is ignored by an
// oldstyle server, which has a single export.
//
// After Go succeeds the Conn owns the connection and the Negotiator is spent. After an
// [*OptionError] (for instance for an unknown export) the negotiation can go on.
func (n *Negotiator) Go(ctx context.Context, name string) (*Conn, error) {
	if err := n.usable(); err != nil {
		return nil, err
	}
	info, contexts, err := n.selectExport(ctx, name)
	if err != nil {
		return nil, err
	}
	// Only now, with the deadlines of the handshake cleared, may the Conn's reader
	// start.
	n.done = true
	return newConn(n.nc, info, n, contexts), nil
}

func (n *Negotiator) selectExport(ctx context.Context, name string) (_ ExportInfo, _ map[string]uint32, err error) {
	if n.oldstyle {
		g := n.oldstyleGreeting
		return ExportInfo{Size: g.Size, Flags: g.Flags, BlockSize: defaultBlockSize()}, nil, nil
	}
	defer n.guard(ctx)(&err)
	if !n.fixedNewstyle {
		info, err := n.exportName(name)
		return info, nil, err
	}
	var contexts map[string]uint32
	if n.structured && !n.opts.DisableMetaContexts && len(n.opts.MetaContexts) > 0 {
		ids, _, err := n.metaContextOption(protocol.OptSetMetaContext, name, n.opts.MetaContexts)
		var oe *OptionError
		switch {
		case errors.As(err, &oe):
			// No contexts: the export is usable without block status.
		case err != nil:
			return ExportInfo{}, nil, err
		default:
			contexts = ids
		}
	}
	info, err := n.exportInfo(protocol.OptGo, name)
	var oe *OptionError
	if errors.As(err, &oe) && oe.Reply == protocol.RepErrUnsup && !n.extended {
		// An old server without NBD_OPT_GO. (One that granted extended headers must
		// support GO, and must not be sent EXPORT_NAME.)
		info, err := n.exportName(name)
		return info, contexts, err
	}
	if err != nil {
		return ExportInfo{}, nil, err
	}
	return *info, contexts, nil
}

// Abort ends the negotiation with NBD_OPT_ABORT and closes the connection. It does not
// wait for the server's acknowledgement, as the specification allows.
func (n *Negotiator) Abort() error {
	if n.done {
		return nil
	}
	n.done = true
	if n.err == nil && n.fixedNewstyle {
		// Bound the write: the server may not be reading.
		n.raw.SetWriteDeadline(time.Now().Add(time.Second))
		n.sendOption(protocol.OptAbort, nil) // best effort: we close either way
	}
	return n.nc.Close()
}

// exportInfo sends NBD_OPT_INFO or NBD_OPT_GO and collects the information replies.
func (n *Negotiator) exportInfo(opt protocol.Opt, name string) (*ExportInfo, error) {
	payload := protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: name, Infos: n.opts.InfoRequests})
	if err := n.sendOption(opt, payload); err != nil {
		return nil, err
	}
	info := &ExportInfo{Name: name, BlockSize: defaultBlockSize()}
	haveExport := false
	for {
		h, p, err := n.readReply(opt)
		if err != nil {
			return nil, err
		}
		switch {
		case h.Type == protocol.RepInfo:
			r, err := protocol.DecodeInfoReply(p)
			if err != nil {
				return nil, n.fail(err)
			}
			switch r.Type {
			case protocol.InfoExport:
				info.Size, info.Flags, haveExport = r.Size, r.Flags, true
			case protocol.InfoName:
				info.Name = r.Name
			case protocol.InfoDescription:
				info.Description = r.Description
			case protocol.InfoBlockSize:
				info.BlockSize = r.BlockSize
			}
			// Unknown information types are ignored, as the specification asks.
		case h.Type == protocol.RepAck:
			if !haveExport {
				return nil, n.fail(protocolErrorf("%v succeeded without NBD_INFO_EXPORT", opt))
			}
			return info, nil
		case h.Type.IsError():
			return nil, optionError(h, p)
		default:
			return nil, n.fail(protocolErrorf("%v reply to %v", h.Type, opt))
		}
	}
}

// exportName enters the transmission phase the old way, with NBD_OPT_EXPORT_NAME. A
// server that refuses the export can only close the connection.
func (n *Negotiator) exportName(name string) (ExportInfo, error) {
	if err := n.sendOption(protocol.OptExportName, []byte(name)); err != nil {
		return ExportInfo{}, err
	}
	reply := make([]byte, protocol.ExportNameReplySize+protocol.ExportNameReplyZeroes)
	if n.noZeroes {
		reply = reply[:protocol.ExportNameReplySize]
	}
	if err := n.read(reply); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the server closed the connection, refusing export %q (NBD_OPT_EXPORT_NAME gives no reason): %w", name, err)
		}
		return ExportInfo{}, n.fail(fmt.Errorf("nbd: %w", err))
	}
	size, flags, err := protocol.DecodeExportNameReply(reply)
	if err != nil {
		return ExportInfo{}, n.fail(err)
	}
	return ExportInfo{Name: name, Size: size, Flags: flags, BlockSize: defaultBlockSize()}, nil
}

// metaContextOption sends NBD_OPT_SET_META_CONTEXT or NBD_OPT_LIST_META_CONTEXT and
// collects the contexts of the replies, by name and as a list.
func (n *Negotiator) metaContextOption(opt protocol.Opt, export string, queries []string) (map[string]uint32, []string, error) {
	payload := protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: export, Queries: queries})
	if err := n.sendOption(opt, payload); err != nil {
		return nil, nil, err
	}
	ids := map[string]uint32{}
	var names []string
	for {
		h, p, err := n.readReply(opt)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case h.Type == protocol.RepMetaContext:
			id, name, err := protocol.DecodeMetaContextReply(p)
			if err != nil {
				return nil, nil, n.fail(err)
			}
			ids[name] = id
			names = append(names, name)
		case h.Type == protocol.RepAck:
			return ids, names, nil
		case h.Type.IsError():
			return nil, nil, optionError(h, p)
		default:
			return nil, nil, n.fail(protocolErrorf("%v reply to %v", h.Type, opt))
		}
	}
}
