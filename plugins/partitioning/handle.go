package partitioning

import (
	"bytes"
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// handle is one connection's view of the disk. The server checks that requests are
// within the disk before they get here.
type handle struct{ p *Plugin }

func (h handle) Size(ctx context.Context) (int64, error) { return h.p.layout.size(), nil }

// ReadAt reads each region the request covers: tables from memory, padding as zeroes,
// partitions from their files.
func (h handle) ReadAt(ctx context.Context, b []byte, off int64) error {
	l := h.p.layout
	for i := l.find(off); len(b) > 0; i++ {
		r := &l.regions[i]
		n := min(int64(len(b)), r.end-off)
		chunk := b[:n]
		switch r.kind {
		case regionTable:
			copy(chunk, r.table[off-r.start:])
		case regionPadding:
			clear(chunk)
		case regionFile:
			if _, err := h.p.files[r.file].ReadAt(chunk, off-r.start); err != nil {
				return h.fileError(r.file, err)
			}
		}
		b, off = b[n:], off+n
	}
	return nil
}

// WriteAt writes the parts of a request that fall in partitions to their files. As in
// nbdkit, writing to the partition tables or the padding fails with EIO unless it
// leaves them as they are, so that clients copying a whole disk onto this one (the
// table included) succeed.
func (h handle) WriteAt(ctx context.Context, b []byte, off int64, flags server.Flags) error {
	l := h.p.layout
	for i := l.find(off); len(b) > 0; i++ {
		r := &l.regions[i]
		n := min(int64(len(b)), r.end-off)
		chunk := b[:n]
		switch r.kind {
		case regionTable:
			if !bytes.Equal(chunk, r.table[off-r.start:][:n]) {
				return server.Errorf(syscall.EIO, "write at %d changes the virtual partition table, which is read-only", off)
			}
		case regionPadding:
			if !allZero(chunk) {
				return server.Errorf(syscall.EIO, "write at %d puts data other than zeroes in the padding between partitions", off)
			}
		case regionFile:
			if _, err := h.p.files[r.file].WriteAt(chunk, off-r.start); err != nil {
				return h.fileError(r.file, err)
			}
		}
		b, off = b[n:], off+n
	}
	return nil
}

// Flush commits every file to stable storage.
func (h handle) Flush(ctx context.Context, flags server.Flags) error {
	var errs []error
	for i, f := range h.p.files {
		if err := f.Sync(); err != nil {
			errs = append(errs, h.fileError(i, err))
		}
	}
	return errors.Join(errs...)
}

// Extents reports the tables as data, padding as holes that read as zeroes, and the
// partitions as their files' data and holes, where the system can tell.
func (h handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	l := h.p.layout
	end := off + length
	for i := l.find(off); i < len(l.regions) && l.regions[i].start < end; i++ {
		r := &l.regions[i]
		var err error
		switch r.kind {
		case regionTable:
			err = e.Add(r.start, r.end-r.start, server.ExtentData)
		case regionPadding:
			err = e.Add(r.start, r.end-r.start, server.ExtentHole|server.ExtentZero)
		case regionFile:
			from := max(off, r.start)
			err = fileExtents(h.p.files[r.file], from-r.start, min(end, r.end)-from, r.start, e)
		}
		if err != nil {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			return nil
		}
	}
	return nil
}

// Capabilities adds what the interfaces do not say: every connection sees the same
// files, so clients may use several at once; caching is emulated by reading; a file
// opened read-only makes the disk read-only.
func (h handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.MultiConn = true
	c.Cache = server.CacheEmulate
	if h.p.readOnly {
		c.Write = false
	}
	return nil
}

// fileError gives a file's error the file's name, and turns a short read (the file
// shrank since the server started) into EIO.
func (h handle) fileError(i int, err error) error {
	if errors.Is(err, io.EOF) {
		return server.Errorf(syscall.EIO, "%s: the file is shorter than when the server started", h.p.paths[i])
	}
	return err // an *fs.PathError, which names the file
}

// allZero reports whether b holds only zeroes.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Cleaner             = (*Plugin)(nil)
	_ server.Writer              = handle{}
	_ server.Flusher             = handle{}
	_ server.Extenter            = handle{}
	_ server.CapabilityOverrider = handle{}
)
