package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Plugin serves a file, a block device, or the files of a directory. Each connection
// opens the file it asked for anew, so a file replaced between connections is served
// as it is now.
type Plugin struct {
	opts Options
	log  *slog.Logger
	src  source

	// buffers and edges serve cache=none (see directIO); buffers is nil without it.
	buffers *bouncePool
	edges   edgeLocks
	// directRefused is set once a file refused O_DIRECT and a warning said so, so
	// that the next refusals only go to the debug log.
	directRefused atomic.Bool
}

// New makes the plugin as opts describe. It checks what it can before any client
// connects: that the file or directory exists and can be read, that a descriptor is
// open, and, with cache=none, whether the file accepts O_DIRECT (logging a warning if
// not). On error, the descriptors in opts are closed.
func New(opts Options) (*Plugin, error) {
	p, err := newPlugin(opts)
	if err != nil {
		for _, f := range []*os.File{opts.FD, opts.DirFD} {
			if f != nil {
				f.Close()
			}
		}
		return nil, err
	}
	return p, nil
}

func newPlugin(opts Options) (*Plugin, error) {
	if opts.Advice < AdviceNormal || opts.Advice > AdviceSequential {
		return nil, fmt.Errorf("unknown access pattern %d: it is normal, random or sequential", opts.Advice)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src, err := newSource(opts)
	if err != nil {
		return nil, err
	}
	p := &Plugin{opts: opts, log: log, src: src}
	if opts.NoCache {
		p.buffers = newBouncePool()
	}
	if opts.File != "" || opts.FD != nil {
		// Open the file as a connection will, to fail now rather than at the first
		// connection, and to learn now whether O_DIRECT works.
		h, err := p.Open(context.Background(), server.OpenRequest{ReadOnly: true})
		if err != nil {
			src.close()
			return nil, err
		}
		h.(*handle).Close()
	}
	return p, nil
}

// newSource checks the parameters that name what to serve, and the thing they name.
func newSource(opts Options) (source, error) {
	given := 0
	for _, set := range []bool{opts.File != "", opts.Dir != "", opts.FD != nil, opts.DirFD != nil} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		return nil, errors.New("missing parameter: give the file to serve ([file=]PATH), a directory (dir=DIR) " +
			"or an inherited descriptor (fd=N or dirfd=N)")
	case given > 1:
		return nil, errors.New("give only one of file=, dir=, fd= and dirfd=")
	case opts.File != "":
		return newPathFile(opts.File)
	case opts.Dir != "":
		return newPathDir(opts.Dir)
	case opts.FD != nil:
		return newSharedFile(opts.FD)
	default:
		src, err := newFDDir(opts.DirFD)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", descriptorName("dirfd", opts.DirFD), err)
		}
		return src, nil
	}
}

func newPathFile(name string) (source, error) {
	path, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("file=%s: %w", name, err)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("file=%s: %w", name, reason(err))
	case info.IsDir():
		return nil, fmt.Errorf("file=%s is a directory: use dir=%s to serve the files in it", name, name)
	case !servable(info.Mode()):
		return nil, fmt.Errorf("file=%s is not a regular file or block device (it is a %s)", name, kindOf(info.Mode()))
	}
	return pathFile{path}, nil
}

func newPathDir(name string) (source, error) {
	path, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("dir=%s: %w", name, err)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("dir=%s: %w", name, reason(err))
	case !info.IsDir():
		return nil, fmt.Errorf("dir=%s is not a directory (use file=%s to serve it)", name, name)
	}
	if _, err := os.ReadDir(path); err != nil {
		return nil, fmt.Errorf("dir=%s: cannot list it: %w", name, reason(err))
	}
	return pathDir{path}, nil
}

func newSharedFile(f *os.File) (source, error) {
	name := descriptorName("fd", f)
	if !descriptorsSupported {
		_, _, err := accessMode(f)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	info, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, reason(err))
	case info.IsDir():
		return nil, fmt.Errorf("%s is a directory: use dirfd= to serve the files in it", name)
	case !servable(info.Mode()):
		return nil, fmt.Errorf("%s is not a regular file or block device (it is a %s)", name, kindOf(info.Mode()))
	}
	readable, writable, err := accessMode(f)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	case !readable:
		return nil, fmt.Errorf("%s is open for writing only: the plugin must be able to read it", name)
	}
	return sharedFile{f: f, writable: writable}, nil
}

// kindOf names the type of a file for messages.
func kindOf(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
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

// Open opens the file a connection serves: the one file, or in directory mode the
// file the client named. The file is opened for writing too unless req.ReadOnly or
// the file refuses it.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	o, err := p.src.open(req.ExportName, req.ReadOnly)
	if err != nil {
		return nil, openError(req.ExportName, err)
	}
	h, err := p.newHandle(o)
	if err != nil {
		if !o.shared {
			o.f.Close()
		}
		return nil, err
	}
	return h, nil
}

// openError is what a client is told when its export cannot be opened: the reason,
// without the server's paths (which the server's log has). Clients asking for a
// file that is not there get ENOENT.
func openError(exportName string, err error) error {
	var serr *server.Error
	if errors.As(err, &serr) {
		return err // already written for the client
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return server.Errorf(errno, "export %q: %w", exportName, errno)
	}
	return fmt.Errorf("export %q: %w", exportName, reason(err))
}

// ListExports lists the files of the directory in directory mode, sorted by name;
// otherwise the default export alone.
func (p *Plugin) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	exports, err := p.src.list()
	if err != nil {
		return nil, err
	}
	sortExports(exports)
	return exports, nil
}

// Cleanup closes the descriptors of fd= and dirfd=.
func (p *Plugin) Cleanup(ctx context.Context) {
	if err := p.src.close(); err != nil {
		p.log.Debug("closing the served descriptor", "err", err)
	}
}

// DumpPlugin writes what `gonbd file --dump-plugin` adds: nbdkit's keys for the ways
// of zeroing and punching holes this build has.
func (p *Plugin) DumpPlugin(w io.Writer) {
	if haveFallocate {
		fmt.Fprintln(w, "file_blksszget=yes")
		fmt.Fprintln(w, "file_blkzeroout=yes")
		fmt.Fprintln(w, "file_falloc_fl_punch_hole=yes")
		fmt.Fprintln(w, "file_falloc_fl_zero_range=yes")
	}
}

// directFallback logs that a file refused O_DIRECT: as a warning the first time, then
// at debug level, so that a directory of such files does not flood the log.
func (p *Plugin) directFallback(name string, err error) {
	const msg = "cache=none: the file refuses O_DIRECT; serving it through the page cache"
	if p.directRefused.CompareAndSwap(false, true) {
		p.log.Warn(msg, "file", name, "err", err)
		return
	}
	p.log.Debug(msg, "file", name, "err", err)
}
