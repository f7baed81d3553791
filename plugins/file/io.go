package file

import (
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// readFull fills p from f at off. A file that ends first was shrunk under the
// server's feet; the client gets EIO.
func readFull(f *os.File, p []byte, off int64) error {
	_, err := f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		return server.Errorf(syscall.EIO, "reading %d bytes at %d of %s: the file ends first (was it truncated?)",
			len(p), off, f.Name())
	}
	return err
}

// writeFull writes all of p to f at off.
func writeFull(f *os.File, p []byte, off int64) error {
	_, err := f.WriteAt(p, off)
	return err
}
