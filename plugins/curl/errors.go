package curl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// A statusError is an answer of the server with a status the request cannot use.
type statusError struct {
	method, url string // the URL without its password
	status      string // the status line, such as "404 Not Found"
	code        int
}

func newStatusError(req *http.Request, resp *http.Response) *statusError {
	// resp.Request is the last request of a chain of redirects.
	return &statusError{method: req.Method, url: resp.Request.URL.Redacted(), status: resp.Status, code: resp.StatusCode}
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: the server answered %s", e.method, e.url, e.status)
}

// errno returns the errno a client receives for the status: EACCES (EPERM on the
// wire) when the server wants credentials it did not get, ENOENT (EIO) when there is
// no such object, and EIO otherwise.
func (e *statusError) errno() syscall.Errno {
	switch e.code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusProxyAuthRequired:
		return syscall.EACCES
	case http.StatusNotFound, http.StatusGone:
		return syscall.ENOENT
	}
	return syscall.EIO
}

// transient reports whether the status may change if the request is tried again: the
// server's errors other than "not implemented" and "version not supported", a request
// timeout and "too many requests".
func (e *statusError) transient() bool {
	switch e.code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return e.code >= 500 && e.code <= 599
}

// A protocolError is an answer the plugin cannot use although its status is fine, such
// as a Content-Range that is not the range asked for. Trying again does not help.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

func protocolErrorf(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// A shortBodyError is an answer whose body ended before the bytes it announced: the
// connection dropped, or the server gave up. Trying again may help.
type shortBodyError struct {
	method, url string
	got, want   int
	err         error
}

func (e *shortBodyError) Error() string {
	return fmt.Sprintf("%s %s: the answer ended after %d of %d bytes: %v", e.method, e.url, e.got, e.want, e.err)
}

func (e *shortBodyError) Unwrap() error { return e.err }

// retryable reports whether a failed attempt may succeed if tried again. ctx is the
// request's: once it ends, nothing is.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var status *statusError
	var protocol *protocolError
	var short *shortBodyError
	switch {
	case errors.As(err, &status):
		return status.transient()
	case errors.As(err, &short):
		return true
	case errors.As(err, &protocol), errors.Is(err, errRedirect), isCertificateError(err), isTLSFailure(err):
		return false
	}
	// What remains are failures to connect or to exchange the request and its answer:
	// refused or dropped connections, resets, time-outs of one attempt.
	return true
}

// isCertificateError reports whether err is the server's certificate failing
// verification, which no retry changes.
func isCertificateError(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verification *tls.CertificateVerificationError
	var alert tls.AlertError
	return errors.As(err, &unknownAuthority) || errors.As(err, &invalid) ||
		errors.As(err, &hostname) || errors.As(err, &verification) || errors.As(err, &alert)
}

// isTLSFailure reports whether err is a TLS handshake that failed for want of
// something both sides accept (a version, a cipher suite), or an alert from the server,
// or an answer that is not TLS at all. Trying again meets the same server.
func isTLSFailure(err error) bool {
	var record tls.RecordHeaderError
	if errors.As(err, &record) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if op, ok := e.(*net.OpError); ok && op.Op == "remote error" {
			return true // crypto/tls's report of the peer's alert
		}
		if strings.HasPrefix(e.Error(), "tls: ") {
			return true // crypto/tls's own errors, such as a version it does not support
		}
	}
	return false
}

// withErrno returns err with the errno a client receives for it.
func withErrno(err error) error {
	var status *statusError
	switch {
	case errors.As(err, &status):
		return &server.Error{Errno: status.errno(), Err: err}
	case isCertificateError(err):
		return &server.Error{Errno: syscall.EACCES, Err: err}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return err // such as ECONNREFUSED, which says what happened
	}
	return &server.Error{Errno: syscall.EIO, Err: err}
}
