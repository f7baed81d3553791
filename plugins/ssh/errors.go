package ssh

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"

	"github.com/gonbd/gonbd/server"
	"github.com/pkg/sftp"
)

// sftpOpUnsupported is the SFTP status code of a request the server does not
// implement (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks).
const sftpOpUnsupported = 8

// remoteError returns err, the failure of an SFTP request on s described by format
// and args, with the errno the client should receive: ENOENT for a missing file,
// EACCES (EPERM on the wire) for a refusal, ENOTSUP for a request the server does not
// implement, and EIO for the rest, a lost connection included. The server's own words,
// which pkg/sftp keeps for the other codes, stay in the message, which the server logs.
func remoteError(s *session, err error, format string, args ...any) error {
	errno := syscall.EIO
	var status *sftp.StatusError
	switch {
	case s != nil && s.lost():
		err = fmt.Errorf("the connection to the server was lost: %w", s.wait())
	case errors.Is(err, fs.ErrNotExist):
		// pkg/sftp replaces these two codes by fs's errors, dropping the server's
		// message; the errno says the same in the words of strerror.
		errno, err = syscall.ENOENT, syscall.ENOENT
	case errors.Is(err, fs.ErrPermission):
		errno, err = syscall.EACCES, syscall.EACCES
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = errors.New("the file ends before the request does (was it truncated?)")
	case errors.Is(err, sftp.ErrSSHFxConnectionLost):
		err = errors.New("the SFTP session ended")
	case errors.As(err, &status) && status.Code == sftpOpUnsupported:
		errno = syscall.ENOTSUP
	}
	return server.Errorf(errno, "%s: %w", fmt.Sprintf(format, args...), err)
}
