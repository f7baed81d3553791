package nbd

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"syscall"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// handle forwards one client connection's requests to a connection to the server.
// Requests go out as they come, so that many are in flight at once; the client
// matches each reply to its request.
type handle struct {
	conn   *client.Conn
	shared bool // conn is the plugin's: Close leaves it open
	log    *slog.Logger
	// maxLength is the longest trim, zero, cache or block status request the
	// connection can carry: without extended headers lengths have 32 bits.
	maxLength int64
	// lost is set once a request found the connection broken, to log that once.
	lost atomic.Bool
}

func newHandle(c *client.Conn, shared bool, log *slog.Logger) *handle {
	h := &handle{conn: c, shared: shared, log: log, maxLength: math.MaxInt64}
	if !c.ExtendedHeaders() {
		// The largest 32-bit length that keeps requests aligned to the server's
		// minimum block size.
		minimum := int64(max(c.BlockSize().Minimum, 1))
		h.maxLength = math.MaxUint32 / minimum * minimum
	}
	return h
}

func (h *handle) Size(ctx context.Context) (int64, error) {
	size := h.conn.Size()
	if size > math.MaxInt64 {
		return 0, server.Errorf(syscall.EOVERFLOW, "the server's export has %d bytes, more than the 2⁶³-1 a client can address", size)
	}
	return int64(size), nil
}

// Capabilities mirror the server's transmission flags, as nbdkit's nbd plugin does:
// what the server cannot do, the client cannot ask for. Zero is the exception: the
// server layer writes zeroes for a server without NBD_CMD_WRITE_ZEROES.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	f := h.conn.Flags()
	has := func(flag protocol.TransmissionFlags) bool { return f&flag != 0 }
	c.Write = !has(protocol.FlagReadOnly)
	c.Flush = has(protocol.FlagSendFlush)
	c.Trim = has(protocol.FlagSendTrim)
	c.Zero = c.Write
	c.FastZero = has(protocol.FlagSendWriteZeroes) && has(protocol.FlagSendFastZero)
	_, c.Extents = h.conn.MetaContexts()[protocol.MetaContextBaseAllocation]
	c.FUA = server.FUANone
	if has(protocol.FlagSendFUA) {
		c.FUA = server.FUANative
	}
	c.MultiConn = has(protocol.FlagCanMultiConn)
	c.Cache = server.CacheNone
	if has(protocol.FlagSendCache) {
		c.Cache = server.CacheNative
	}
	c.Rotational = has(protocol.FlagRotational)
	return nil
}

// BlockSize passes on the server's constraints. The client reports the protocol's
// defaults (1, 4096, 32 MiB) for a server that gave none.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	return blockSizeFrom(h.conn.BlockSize())
}

func (h *handle) ExportDescription(ctx context.Context) (string, error) {
	return h.conn.Description(), nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	return h.fail(h.conn.ReadAt(ctx, p, uint64(off), 0))
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.fail(h.conn.WriteAt(ctx, p, uint64(off), fuaFlag(flags)))
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	return h.fail(h.conn.Flush(ctx, 0))
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.split(ctx, off, length, fuaFlag(flags), h.conn.Trim)
}

// errZeroUnsupported makes the server layer write zeroes instead, as nbdkit does for a
// server without NBD_CMD_WRITE_ZEROES.
var errZeroUnsupported = &server.Error{
	Errno: syscall.ENOTSUP,
	Err:   errors.New("the server has no NBD_CMD_WRITE_ZEROES"),
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if h.conn.Flags()&protocol.FlagSendWriteZeroes == 0 {
		return errZeroUnsupported
	}
	f := fuaFlag(flags)
	if flags&server.FlagMayTrim == 0 {
		f |= protocol.CmdFlagNoHole
	}
	if flags&server.FlagFastZero != 0 {
		f |= protocol.CmdFlagFastZero
	}
	return h.split(ctx, off, length, f, h.conn.Zero)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.split(ctx, off, length, 0, h.conn.Cache)
}

// split sends a trim, zero or cache request in pieces the connection can carry.
func (h *handle) split(ctx context.Context, off, length int64, flags protocol.CmdFlags,
	send func(ctx context.Context, off, length uint64, flags protocol.CmdFlags) error) error {
	for length > 0 {
		n := min(length, h.maxLength)
		if err := send(ctx, uint64(off), uint64(n), flags); err != nil {
			return h.fail(err)
		}
		off, length = off+n, length-n
	}
	return nil
}

// Extents asks the server for the base:allocation status of the range. The server may
// describe less than the range (the server layer asks again for the rest) and its last
// extent may go past the end (the list cuts it off).
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	var f protocol.CmdFlags
	if flags&server.FlagReqOne != 0 {
		f |= protocol.CmdFlagReqOne
	}
	next := off
	err := h.conn.BlockStatus(ctx, uint64(off), uint64(min(length, h.maxLength)), f,
		func(metaContext string, ds []protocol.BlockDescriptor) error {
			if metaContext != protocol.MetaContextBaseAllocation {
				return nil
			}
			for _, d := range ds {
				n := int64(min(d.Length, uint64(math.MaxInt64-next)))
				t := server.ExtentType(d.Flags) & (server.ExtentHole | server.ExtentZero)
				if err := e.Add(next, n, t); err != nil {
					return err
				}
				next += n
			}
			return nil
		})
	return h.fail(err)
}

// Close ends the connection to the server, unless it is shared.
func (h *handle) Close() error {
	if h.shared {
		return nil
	}
	if err := h.conn.Close(); err != nil && !errors.Is(err, client.ErrClosed) && !errors.Is(err, client.ErrDisconnected) {
		h.log.Debug("closing the connection to the server", "err", err)
	}
	return nil
}

// fail returns the error a client receives for err. The server's own errors carry
// its errno, which goes to the client unchanged. A lost connection is EIO, as any
// local failure, and is logged once: every later request fails the same way, since
// nbdkit's plugin does not reconnect either (a retry filter does, by reopening).
func (h *handle) fail(err error) error {
	if err == nil {
		return nil
	}
	var serverErr *client.ServerError
	if errors.As(err, &serverErr) {
		return err
	}
	if errors.Is(err, client.ErrDisconnected) || errors.Is(err, client.ErrClosed) {
		if !h.lost.Swap(true) {
			h.log.Error("the connection to the server is lost; its requests fail from now on", "err", err)
		}
		return &server.Error{Errno: syscall.EIO, Err: err}
	}
	return err
}

// fuaFlag passes on FUA, the only flag of writes, trims and cache requests.
func fuaFlag(flags server.Flags) protocol.CmdFlags {
	if flags&server.FlagFUA != 0 {
		return protocol.CmdFlagFUA
	}
	return 0
}
