package ssh

import (
	"context"
	"errors"
	"io"

	"github.com/gonbd/gonbd/server"
	"github.com/pkg/sftp"
)

// handle serves one client connection from the remote file opened on its own session.
// Its methods run in parallel: pkg/sftp matches each reply to its request, and splits
// large requests into SFTP packets that are in flight together.
type handle struct {
	s        *session
	f        *sftp.File
	size     int64
	canFlush bool // the server has the fsync@openssh.com extension
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

// Capabilities withdraw flush, and FUA with it, from a server that cannot flush. A
// server that can is trusted with multi-conn, as nbdkit trusts it: OpenSSH's
// sftp-server writes every connection's data to the same file with pwrite(2), reads
// it with pread(2), and its fsync flushes the file whichever connection wrote.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	if !h.canFlush {
		c.Flush = false
		c.FUA = server.FUANone
	}
	c.MultiConn = h.canFlush
	return nil
}

// ReadAt reads p from the file. A server may return less than a packet asks for,
// which pkg/sftp takes for the end of the file when it splits a request into packets:
// the rest is asked for again, as long as it is within the file.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := h.f.ReadAt(p, off)
		switch {
		case n == len(p):
			return nil // io.ReaderAt may report io.EOF with a full read at the end
		case n > 0 && (err == nil || errors.Is(err, io.EOF)) && off+int64(n) < h.size:
			p, off = p[n:], off+int64(n)
			continue
		case err == nil:
			err = io.ErrUnexpectedEOF
		}
		return remoteError(h.s, err, "reading %d bytes at %d", len(p), off)
	}
	return nil
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if _, err := h.f.WriteAt(p, off); err != nil {
		return remoteError(h.s, err, "writing %d bytes at %d", len(p), off)
	}
	return nil
}

// Flush asks the server to fsync the file.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	if err := h.f.Sync(); err != nil {
		return remoteError(h.s, err, "flushing")
	}
	return nil
}

// Close closes the file, then the session. By then every request has been answered.
// Errors of a session already lost are no news.
func (h *handle) Close() error {
	lost := h.s.lost()
	err := h.f.Close()
	if cerr := h.s.Close(); err == nil {
		err = cerr
	}
	if err != nil && !lost {
		return remoteError(nil, err, "closing the remote file")
	}
	return nil
}
