// Package client is a Network Block Device (NBD) client written in Go alone.
//
// It speaks the oldstyle and fixed newstyle handshakes, TLS (NBD_OPT_STARTTLS),
// structured replies, extended headers with 64-bit lengths, meta contexts and block
// status, and keeps many requests in flight on one connection.
//
// The simplest use dials a server and selects an export:
//
//	c, err := client.DialURI(ctx, "nbd+unix:///disk?socket=/run/nbd.sock", nil)
//	if err != nil { ... }
//	defer c.Close()
//	buf := make([]byte, 4096)
//	err = c.ReadAt(ctx, buf, 0, 0)
//
// Dial, DialURI and NewConn negotiate everything in one step. To list exports or ask
// about one before choosing, start with [Handshake] and use the [Negotiator] it returns:
// List, Info and ListMetaContexts, then Go (or Abort).
//
// A [Conn] is safe for concurrent use. One goroutine reads the replies and hands each
// to the request it answers, reading read data straight into the caller's buffer; a
// request whose context ends returns at once, and its reply is drained when it comes.
// Errors the server returns are [*ServerError] values that match the system errors of
// the same meaning: errors.Is(err, syscall.ENOSPC). When the connection breaks, every
// pending and later request fails with an error that wraps [ErrDisconnected].
//
// The package links the standard library only.
package client
