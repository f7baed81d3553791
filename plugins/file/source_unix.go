//go:build unix

package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gonbd/gonbd/server"
)

// descriptorsSupported is true where fd= and dirfd= work.
const descriptorsSupported = true

// accessMode reports whether a descriptor was opened for reading and for writing.
func accessMode(f *os.File) (readable, writable bool, err error) {
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return false, false, os.NewSyscallError("fcntl", err)
	}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return true, false, nil
	case unix.O_WRONLY:
		return false, true, nil
	default:
		return true, true, nil
	}
}

// fdDir is the source of dirfd=: the files in a directory given by an inherited
// descriptor. Names are looked up relative to it (openat), so the directory may be
// one the server could not reach by path.
type fdDir struct {
	dir *os.File
	fd  int
}

func (s fdDir) open(exportName string, readOnly bool) (opened, error) {
	if err := checkExportName(exportName); err != nil {
		return opened{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(s.fd, exportName, &st, 0); err != nil {
		return opened{}, &fs.PathError{Op: "fstatat", Path: exportName, Err: err}
	}
	if !servableStat(&st) {
		return opened{}, server.Errorf(syscall.ENOENT, "export %q is not a regular file or block device", exportName)
	}
	o, err := openMaybeWritable(func(flag int) (*os.File, error) {
		fd, err := unix.Openat(s.fd, exportName, flag|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != nil {
			return nil, &fs.PathError{Op: "openat", Path: exportName, Err: err}
		}
		return os.NewFile(uintptr(fd), exportName), nil
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

func (s fdDir) list() ([]server.Export, error) {
	// A descriptor of its own to read the directory from, so that listings start
	// at the beginning whatever the previous one left.
	fd, err := unix.Openat(s.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "openat", Path: ".", Err: err}
	}
	d := os.NewFile(uintptr(fd), s.dir.Name())
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var exports []server.Export
	for _, name := range names {
		var st unix.Stat_t
		if unix.Fstatat(s.fd, name, &st, 0) == nil && servableStat(&st) {
			exports = append(exports, server.Export{Name: name})
		}
	}
	return exports, nil
}

func (s fdDir) close() error { return s.dir.Close() }

func servableStat(st *unix.Stat_t) bool {
	kind := uint32(st.Mode) & unix.S_IFMT
	return kind == unix.S_IFREG || kind == unix.S_IFBLK
}

// newFDDir checks that dir is a directory descriptor and returns its source.
func newFDDir(dir *os.File) (source, error) {
	info, err := dir.Stat()
	if err != nil {
		return nil, reason(err)
	}
	if !info.IsDir() {
		return nil, errors.New("not a directory")
	}
	return fdDir{dir: dir, fd: int(dir.Fd())}, nil
}

// descriptorName is how messages name an inherited descriptor: as the user typed it.
func descriptorName(key string, f *os.File) string {
	return fmt.Sprintf("%s=%d", key, f.Fd())
}
