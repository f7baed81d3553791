package split

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Plugin serves regular files concatenated into one export. Each connection opens
// the files anew.
type Plugin struct {
	paths []string // absolute
	log   *slog.Logger
}

// New makes the plugin, checking before any client connects that every file exists,
// is a regular file and can be read.
func New(opts Options) (*Plugin, error) {
	if len(opts.Files) == 0 {
		return nil, errors.New("missing parameter: give the files to concatenate, in order ([file=]PATH ...)")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plugin{log: log}
	for _, name := range opts.Files {
		path, err := checkFile(name)
		if err != nil {
			return nil, err
		}
		p.paths = append(p.paths, path)
	}
	return p, nil
}

// checkFile checks that one of the files can be served and returns its absolute
// path, so that the server's working directory changing later does not matter.
func checkFile(name string) (string, error) {
	if name == "" {
		return "", errors.New("file= is empty: give the path of a file to concatenate")
	}
	path, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("file=%s: %w", name, err)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return "", fmt.Errorf("file=%s: %w", name, reason(err))
	case info.IsDir():
		return "", fmt.Errorf("file=%s is a directory: the split plugin concatenates regular files", name)
	case !info.Mode().IsRegular():
		return "", fmt.Errorf("file=%s is not a regular file: the split plugin concatenates regular files only "+
			"(the file plugin serves block devices)", name)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("file=%s: cannot open it for reading: %w", name, reason(err))
	}
	f.Close()
	return path, nil
}

// reason strips the operation and path from an error of package os, for messages
// that name the path as the user gave it.
func reason(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

// Open opens every file, for writing too unless req.ReadOnly; the export is writable
// only if every file could be opened for writing.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	h := &handle{writable: !req.ReadOnly, parts: make([]part, 0, len(p.paths))}
	for _, path := range p.paths {
		f, writable, err := openFile(path, req.ReadOnly)
		if err != nil {
			p.log.Warn("cannot open a file to serve", "err", err)
			h.Close()
			return nil, openError(err)
		}
		if !writable && !req.ReadOnly {
			p.log.Debug("a file cannot be written: the export is read-only", "file", path)
		}
		h.writable = h.writable && writable
		part, err := newPart(f, h.size)
		if err != nil {
			f.Close()
			h.Close()
			return nil, err
		}
		h.parts = append(h.parts, part)
		if h.size > math.MaxInt64-part.size {
			h.Close()
			return nil, server.Errorf(syscall.EFBIG, "the files add up to more than 2⁶³-1 bytes")
		}
		h.size += part.size
	}
	return h, nil
}

// openFile opens a file read-write unless readOnly, and read-only when the file
// refuses writing (its permissions, a read-only file system).
func openFile(path string, readOnly bool) (f *os.File, writable bool, err error) {
	if !readOnly {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err == nil {
			return f, true, nil
		}
		if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EROFS) {
			return nil, false, err
		}
	}
	f, err = os.Open(path)
	return f, false, err
}

// openError is what a client is told when a file cannot be opened: the reason,
// without the server's paths (which the server's log has).
func openError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return server.Errorf(errno, "opening one of the files: %w", errno)
	}
	return fmt.Errorf("opening one of the files: %w", reason(err))
}
