package split

import (
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// handle is one connection's open files.
type handle struct {
	parts    []part
	size     int64
	writable bool // every file was opened for writing
}

// part is one of the files and where it lies in the export.
type part struct {
	f       *os.File
	fd      int   // f's descriptor, for the system calls package os does not make
	start   int64 // offset of the file's first byte in the export
	size    int64
	extents bool // lseek finds holes in this file
}

func newPart(f *os.File, start int64) (part, error) {
	info, err := f.Stat()
	if err != nil {
		return part{}, err
	}
	p := part{f: f, fd: int(f.Fd()), start: start, size: info.Size()}
	if haveSeekHole {
		// An empty file has nothing to report; otherwise, nbdkit's test: a file
		// system where this fails cannot tell holes either.
		_, err := seekHole(p.fd, 0)
		p.extents = p.size == 0 || err == nil
	}
	return p, nil
}

// each calls fn for every file [off, off+length) of the export covers, in order,
// with the offset in that file and the number of bytes there. A request crossing
// files is thus split at their boundaries.
func (h *handle) each(off, length int64, fn func(p *part, fileOff, n int64) error) error {
	i := sort.Search(len(h.parts), func(i int) bool { return h.parts[i].start+h.parts[i].size > off })
	for ; length > 0 && i < len(h.parts); i++ {
		p := &h.parts[i]
		fileOff := off - p.start
		n := min(length, p.size-fileOff)
		if n <= 0 {
			continue // an empty file
		}
		if err := fn(p, fileOff, n); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

// Capabilities answers what the files allow together: writing when every one was
// opened for writing, trimming and fast zeroing where the system can punch holes,
// extents when lseek finds holes in every file, native FUA, and multi-conn: every
// connection writes the same files, and a flush on any of them commits all.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.Write = h.writable
	c.Trim = h.writable && haveFallocate
	c.FastZero = h.writable && haveFallocate
	c.FUA = server.FUANative
	c.Extents = haveSeekHole
	for _, p := range h.parts {
		c.Extents = c.Extents && p.extents
	}
	c.MultiConn = true
	if haveFadvise {
		c.Cache = server.CacheNative
	} else {
		c.Cache = server.CacheEmulate
	}
	return nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	return h.each(off, int64(len(p)), func(part *part, fileOff, n int64) error {
		q := p[:n]
		p = p[n:]
		_, err := part.f.ReadAt(q, fileOff)
		if errors.Is(err, io.EOF) {
			return server.Errorf(syscall.EIO, "reading %d bytes at %d of %s: the file ends first (was it truncated?)",
				n, fileOff, part.f.Name())
		}
		return err
	})
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	length := int64(len(p))
	err := h.each(off, length, func(part *part, fileOff, n int64) error {
		q := p[:n]
		p = p[n:]
		_, err := part.f.WriteAt(q, fileOff)
		return err
	})
	if err != nil {
		return err
	}
	return h.syncIfFUA(off, length, flags)
}

// Flush commits every file.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	for _, p := range h.parts {
		if err := fdatasync(p.f); err != nil {
			return err
		}
	}
	return nil
}

// syncIfFUA commits, for a request with FUA, the files it changed.
func (h *handle) syncIfFUA(off, length int64, flags server.Flags) error {
	if flags&server.FlagFUA == 0 {
		return nil
	}
	return h.each(off, length, func(p *part, fileOff, n int64) error { return fdatasync(p.f) })
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.each(off, length, func(p *part, fileOff, n int64) error { return willNeed(p.fd, fileOff, n) })
}

func (h *handle) Close() error {
	var err error
	for _, p := range h.parts {
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
