package client

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/gonbd/gonbd/protocol"
)

// ReadAt reads len(p) bytes at offset off into p. Holes the server reports are filled
// with zeroes. Flags may hold CmdFlagDF (if the server advertises FlagSendDF) or
// CmdFlagFUA. An empty p sends nothing.
//
// If ctx ends before the reply comes, ReadAt returns ctx's error and the contents of p
// are unspecified; the connection stays usable and never writes into p afterwards. (If
// the server is in the middle of sending data for p, ReadAt first waits for that chunk
// to arrive.)
func (c *Conn) ReadAt(ctx context.Context, p []byte, off uint64, flags protocol.CmdFlags) error {
	if len(p) == 0 {
		return nil
	}
	return c.exec(ctx, protocol.CmdRead, flags, off, uint64(len(p)), p, nil)
}

// WriteAt writes p at offset off. Flags may hold CmdFlagFUA to have the data
// persisted before the reply. An empty p sends nothing. The connection does not keep p
// after WriteAt returns.
func (c *Conn) WriteAt(ctx context.Context, p []byte, off uint64, flags protocol.CmdFlags) error {
	if len(p) == 0 {
		return nil
	}
	length := uint64(len(p))
	if c.extended {
		// The length is the payload's: the server needs the flag to read it.
		flags |= protocol.CmdFlagPayloadLen
	}
	return c.exec(ctx, protocol.CmdWrite, flags, off, length, nil, p)
}

// Flush asks the server to persist every write it has answered.
func (c *Conn) Flush(ctx context.Context, flags protocol.CmdFlags) error {
	return c.exec(ctx, protocol.CmdFlush, flags, 0, 0, nil, nil)
}

// Trim tells the server that length bytes at off are no longer needed. A length of
// zero sends nothing.
func (c *Conn) Trim(ctx context.Context, off, length uint64, flags protocol.CmdFlags) error {
	if length == 0 {
		return nil
	}
	return c.exec(ctx, protocol.CmdTrim, flags, off, length, nil, nil)
}

// Zero writes length zero bytes at off with NBD_CMD_WRITE_ZEROES. Flags may hold
// CmdFlagNoHole (allocate rather than punch a hole), CmdFlagFastZero (fail with ENOTSUP
// unless zeroing is faster than writing) and CmdFlagFUA. A length of zero sends
// nothing.
func (c *Conn) Zero(ctx context.Context, off, length uint64, flags protocol.CmdFlags) error {
	if length == 0 {
		return nil
	}
	return c.exec(ctx, protocol.CmdWriteZeroes, flags, off, length, nil, nil)
}

// Cache asks the server to prepare length bytes at off for access. A length of zero
// sends nothing.
func (c *Conn) Cache(ctx context.Context, off, length uint64, flags protocol.CmdFlags) error {
	if length == 0 {
		return nil
	}
	return c.exec(ctx, protocol.CmdCache, flags, off, length, nil, nil)
}

// BlockStatus asks for the status of length bytes at off in every negotiated meta
// context, and calls fn once per context with its descriptors, in the server's order.
// The descriptors cover consecutive extents from off; they may stop short of length
// (ask again from where they end) and the last one may go past it. With
// CmdFlagReqOne the server sends one descriptor per context. fn must not keep ds; an
// error from fn stops the calls and is returned.
func (c *Conn) BlockStatus(ctx context.Context, off, length uint64, flags protocol.CmdFlags,
	fn func(context string, ds []protocol.BlockDescriptor) error) error {
	if len(c.contexts) == 0 {
		return fmt.Errorf("nbd: NBD_CMD_BLOCK_STATUS needs a meta context, and none was negotiated: %w", errors.ErrUnsupported)
	}
	if length == 0 {
		return errors.New("nbd: NBD_CMD_BLOCK_STATUS of length 0")
	}
	if err := c.check(protocol.CmdBlockStatus, flags, length); err != nil {
		return err
	}
	cl := c.getCall(protocol.CmdBlockStatus, flags, off, length)
	if err := c.roundTrip(ctx, cl, nil); err != nil {
		return err
	}
	err := cl.err
	for _, s := range cl.statuses {
		if err != nil {
			break
		}
		err = fn(c.contextNames[s.id], cl.ds[s.start:s.end])
	}
	c.putCall(cl)
	return err
}

// exec checks and sends a request and returns the server's verdict. Read data goes
// into buf, payload follows the header.
func (c *Conn) exec(ctx context.Context, cmd protocol.Cmd, flags protocol.CmdFlags, off, length uint64, buf, payload []byte) error {
	if err := c.check(cmd, flags&^c.autoFlags(cmd), length); err != nil {
		return err
	}
	cl := c.getCall(cmd, flags, off, length)
	cl.buf = buf
	if err := c.roundTrip(ctx, cl, payload); err != nil {
		return err
	}
	err := cl.err
	c.putCall(cl)
	return err
}

// autoFlags returns the flags the client sets itself for cmd.
func (c *Conn) autoFlags(cmd protocol.Cmd) protocol.CmdFlags {
	if c.extended && cmd == protocol.CmdWrite {
		return protocol.CmdFlagPayloadLen
	}
	return 0
}

// check refuses, before anything is sent, requests that the negotiation rules out: the
// specification forbids clients to send them, and a server may disconnect for them.
func (c *Conn) check(cmd protocol.Cmd, flags protocol.CmdFlags, length uint64) error {
	if !c.extended && length > math.MaxUint32 {
		return fmt.Errorf("nbd: %v of %d bytes: lengths above 4 GiB - 1 need extended headers, which the server does not support; split the request", cmd, length)
	}
	if flags&protocol.CmdFlagPayloadLen != 0 {
		return fmt.Errorf("nbd: %v: the client sets NBD_CMD_FLAG_PAYLOAD_LEN itself", cmd)
	}
	if err := c.needFlag(cmd, commandFlag(cmd), ""); err != nil {
		return err
	}
	for _, f := range [...]struct {
		cmdFlag  protocol.CmdFlags
		flag     protocol.TransmissionFlags
		flagName string
	}{
		{protocol.CmdFlagFUA, protocol.FlagSendFUA, "NBD_CMD_FLAG_FUA"},
		{protocol.CmdFlagDF, protocol.FlagSendDF, "NBD_CMD_FLAG_DF"},
		{protocol.CmdFlagFastZero, protocol.FlagSendFastZero, "NBD_CMD_FLAG_FAST_ZERO"},
	} {
		if flags&f.cmdFlag != 0 {
			if err := c.needFlag(cmd, f.flag, f.flagName); err != nil {
				return err
			}
		}
	}
	return nil
}

// commandFlag returns the transmission flag without which cmd must not be sent.
func commandFlag(cmd protocol.Cmd) protocol.TransmissionFlags {
	switch cmd {
	case protocol.CmdFlush:
		return protocol.FlagSendFlush
	case protocol.CmdTrim:
		return protocol.FlagSendTrim
	case protocol.CmdWriteZeroes:
		return protocol.FlagSendWriteZeroes
	case protocol.CmdCache:
		return protocol.FlagSendCache
	}
	return 0
}

// needFlag fails unless the export's transmission flags include flag.
func (c *Conn) needFlag(cmd protocol.Cmd, flag protocol.TransmissionFlags, what string) error {
	if c.info.Flags&flag == flag {
		return nil
	}
	if what == "" {
		what = cmd.String()
	}
	return fmt.Errorf("nbd: %v: the server does not support %s: %w", cmd, what, errors.ErrUnsupported)
}
