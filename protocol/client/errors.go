package client

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gonbd/gonbd/protocol"
)

// ErrClosed is returned by requests made on, or still waiting on, a connection that
// Close or Disconnect has closed.
var ErrClosed = errors.New("nbd: use of closed connection")

// ErrDisconnected is wrapped by the error of every request that fails because the
// connection broke: the server went away, a read or write failed, or the server broke the
// protocol so that the stream could not be followed. The cause is wrapped too.
var ErrDisconnected = errors.New("nbd: connection lost")

// A ServerError is an error the server returned for a request.
//
// It unwraps to its [protocol.Errno], so that errors.Is(err, syscall.ENOSPC) holds for
// an NBD_ENOSPC reply.
type ServerError struct {
	// Cmd is the request that failed.
	Cmd protocol.Cmd
	// Errno is the error number from the reply.
	Errno protocol.Errno
	// Message is the server's explanation, from an error chunk; it may be empty.
	Message string
	// HasOffset reports whether the server named the offset where the error happened
	// (NBD_REPLY_TYPE_ERROR_OFFSET); Offset is that offset.
	HasOffset bool
	Offset    uint64
}

func (e *ServerError) Error() string {
	s := "nbd: " + e.Cmd.String() + ": " + e.Errno.Error()
	if e.HasOffset {
		s += " at offset " + strconv.FormatUint(e.Offset, 10)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the error number, which matches the system error of the same meaning.
func (e *ServerError) Unwrap() error { return e.Errno }

// NBDErrno returns the error number from the reply, as the errors of package server do.
func (e *ServerError) NBDErrno() protocol.Errno { return e.Errno }

// An OptionError is a negative reply of the server to an option during the handshake,
// such as NBD_REP_ERR_UNKNOWN for an export that does not exist.
type OptionError struct {
	// Option is the option the server refused.
	Option protocol.Opt
	// Reply is the error reply type; Reply.IsError() is true.
	Reply protocol.Rep
	// Message is the server's explanation; it may be empty.
	Message string
}

func (e *OptionError) Error() string {
	s := "nbd: server refused " + e.Option.String() + ": " + e.Reply.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// A ProtocolError reports a server that did not follow the protocol. When it breaks the
// framing of the stream, the connection is closed and the error is also wrapped with
// [ErrDisconnected]; otherwise only the request concerned fails.
type ProtocolError struct {
	// What describes the violation.
	What string
}

func (e *ProtocolError) Error() string { return "nbd: protocol violation by server: " + e.What }

func protocolErrorf(format string, args ...any) *ProtocolError {
	return &ProtocolError{What: fmt.Sprintf(format, args...)}
}

// disconnected wraps the cause of a broken connection so that both ErrDisconnected and
// the cause can be matched with errors.Is.
func disconnected(cause error) error {
	return fmt.Errorf("%w: %w", ErrDisconnected, cause)
}
