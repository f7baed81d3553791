package lzip

import (
	"context"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// The export is read-only: Capabilities says so, and the server sends no writes. These
// methods keep a layer above that would send some anyway from reaching the file behind
// with offsets that mean something else there.

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return readOnly()
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return readOnly()
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return readOnly()
}

func readOnly() error {
	return server.Errorf(syscall.EROFS, "the lzip filter serves a read-only export")
}
