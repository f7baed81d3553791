package ssh

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
	"github.com/pkg/sftp"
)

func TestRemoteError(t *testing.T) {
	tests := []struct {
		err  error
		want protocol.Errno
		text string
	}{
		{fs.ErrNotExist, protocol.EIO, "reading: no such file or directory"},
		{fmt.Errorf("open: %w", fs.ErrPermission), protocol.EPERM, "reading: permission denied"},
		{&sftp.StatusError{Code: sftpOpUnsupported}, protocol.ENOTSUP, "reading: sftp"},
		{io.EOF, protocol.EIO, "the file ends before the request does"},
		{sftp.ErrSSHFxConnectionLost, protocol.EIO, "the SFTP session ended"},
		{errors.New("sftp: \"Failure\" (SSH_FX_FAILURE)"), protocol.EIO, `reading: sftp: "Failure"`},
	}
	for _, tt := range tests {
		err := remoteError(nil, tt.err, "reading")
		if got := server.ErrnoOf(err); got != tt.want || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("remoteError(%v) = %v (%v), want %v and a message with %q", tt.err, err, got, tt.want, tt.text)
		}
	}
}

func TestUnreachableAgent(t *testing.T) {
	log := &strings.Builder{}
	signers, conn := agentKeys(filepath.Join(t.TempDir(), "no-agent"), slog.New(slog.NewTextHandler(log, nil)))
	if signers != nil || conn != nil {
		t.Error("keys from an agent that is not there")
	}
	if !strings.Contains(log.String(), "cannot reach the SSH agent") {
		t.Errorf("the log does not say the agent is missing:\n%s", log)
	}
}
