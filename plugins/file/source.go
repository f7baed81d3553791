package file

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// A source is where the plugin finds the file behind an export name: one path, an
// inherited descriptor, or a directory given by path or descriptor.
type source interface {
	// open opens the file a connection asked for, for reading and, unless readOnly,
	// for writing if the file allows it.
	open(exportName string, readOnly bool) (opened, error)
	// list returns the exports a client may ask for.
	list() ([]server.Export, error)
	// close releases what the source holds (the descriptors of fd= and dirfd=).
	close() error
}

// opened is a file opened for one connection.
type opened struct {
	f        *os.File
	writable bool
	// shared is true for the descriptor of fd=, which every connection uses and
	// none may close.
	shared bool
}

// openMaybeWritable opens a file read-write unless readOnly, and read-only when the
// file refuses writing (its permissions, a read-only file system), as nbdkit does: a
// file the server may only read is served read-only rather than refused.
func openMaybeWritable(open func(flag int) (*os.File, error), readOnly bool) (opened, error) {
	if !readOnly {
		f, err := open(os.O_RDWR)
		if err == nil {
			return opened{f: f, writable: true}, nil
		}
		if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EROFS) {
			return opened{}, err
		}
	}
	f, err := open(os.O_RDONLY)
	if err != nil {
		return opened{}, err
	}
	return opened{f: f}, nil
}

// servable reports whether a file of this mode can be served: a regular file or a
// block device.
func servable(mode fs.FileMode) bool {
	return mode.IsRegular() || isBlockDevice(mode)
}

func isBlockDevice(mode fs.FileMode) bool {
	return mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice == 0
}

// checkServable checks, after opening, that f is what the plugin serves: a name that
// was a file when it was looked up may have been replaced since.
func checkServable(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !servable(info.Mode()) {
		return server.Errorf(syscall.EINVAL, "%s is not a regular file or block device", f.Name())
	}
	return nil
}

// pathFile is the source of file=: one path, whatever the export name.
type pathFile struct{ path string }

func (s pathFile) open(exportName string, readOnly bool) (opened, error) {
	o, err := openMaybeWritable(func(flag int) (*os.File, error) {
		return os.OpenFile(s.path, flag, 0)
	}, readOnly)
	if err != nil {
		return opened{}, err
	}
	if err := checkServable(o.f); err != nil {
		o.f.Close()
		return opened{}, err
	}
	return o, nil
}

func (s pathFile) list() ([]server.Export, error) { return []server.Export{{Name: ""}}, nil }
func (s pathFile) close() error                   { return nil }

// sharedFile is the source of fd=: one descriptor shared by every connection. Reads
// and writes take offsets (pread, pwrite), so connections never disturb each other.
type sharedFile struct {
	f        *os.File
	writable bool // the descriptor's access mode allows writing
}

func (s sharedFile) open(exportName string, readOnly bool) (opened, error) {
	return opened{f: s.f, writable: s.writable && !readOnly, shared: true}, nil
}

func (s sharedFile) list() ([]server.Export, error) { return []server.Export{{Name: ""}}, nil }
func (s sharedFile) close() error                   { return s.f.Close() }

// checkExportName refuses export names that are not a file directly in the
// directory. Like nbdkit, every refusal is ENOENT: to the client, such an export
// simply does not exist.
func checkExportName(name string) error {
	switch {
	case name == "":
		return server.Errorf(syscall.ENOENT,
			"the default export (\"\") does not exist when serving a directory: ask for a file's name (nbdinfo --list shows them)")
	case strings.ContainsRune(name, '/') || strings.ContainsRune(name, filepath.Separator):
		return server.Errorf(syscall.ENOENT, "export %q: names of files in the directory cannot contain a slash", name)
	case name == "." || name == "..":
		return server.Errorf(syscall.ENOENT, "export %q is not a file in the directory", name)
	}
	return nil
}

// pathDir is the source of dir=: the files in a directory named by path.
type pathDir struct{ dir string }

func (s pathDir) open(exportName string, readOnly bool) (opened, error) {
	if err := checkExportName(exportName); err != nil {
		return opened{}, err
	}
	path := filepath.Join(s.dir, exportName)
	// Look before opening: opening a FIFO would block until a writer came along.
	info, err := os.Stat(path)
	if err != nil {
		return opened{}, err
	}
	if !servable(info.Mode()) {
		return opened{}, server.Errorf(syscall.ENOENT, "export %q is not a regular file or block device", exportName)
	}
	return pathFile{path}.open(exportName, readOnly)
}

func (s pathDir) list() ([]server.Export, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var exports []server.Export
	for _, entry := range entries {
		// os.Stat follows symbolic links, as nbdkit does; a dangling one is no export.
		info, err := os.Stat(filepath.Join(s.dir, entry.Name()))
		if err == nil && servable(info.Mode()) {
			exports = append(exports, server.Export{Name: entry.Name()})
		}
	}
	return exports, nil
}

func (s pathDir) close() error { return nil }

// sortExports sorts an export list by name, so that listings do not depend on the
// order the directory happens to keep.
func sortExports(exports []server.Export) {
	slices.SortFunc(exports, func(a, b server.Export) int { return strings.Compare(a.Name, b.Name) })
}
