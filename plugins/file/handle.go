package file

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// handle is one connection's open file.
type handle struct {
	p  *Plugin
	f  *os.File
	fd int // f's descriptor, for the system calls package os does not make
	// shared is true for fd=: the descriptor is the plugin's, not the connection's.
	shared   bool
	writable bool

	size        int64
	blockDevice bool
	sectorSize  int64 // of a block device, for BLKZEROOUT
	rotational  bool
	extents     bool // lseek finds holes in this file

	// direct serves reads and writes with cache=none; nil otherwise, or when the
	// file refused O_DIRECT.
	direct *directIO

	// What the file turned out not to support, learnt from ENOTSUP, so that zero
	// and trim requests do not try it again (nbdkit keeps the same per handle).
	noPunchHole atomic.Bool
	noZeroRange atomic.Bool
	noAllocate  atomic.Bool
	noZeroOut   atomic.Bool
}

// newHandle learns what a connection needs to know about the file it opened.
func (p *Plugin) newHandle(o opened) (*handle, error) {
	info, err := o.f.Stat()
	if err != nil {
		return nil, err
	}
	h := &handle{
		p:           p,
		f:           o.f,
		fd:          int(o.f.Fd()),
		shared:      o.shared,
		writable:    o.writable,
		size:        info.Size(),
		blockDevice: isBlockDevice(info.Mode()),
	}
	if h.blockDevice {
		if h.size, err = blockDeviceSize(o.f); err != nil {
			return nil, fmt.Errorf("%s: %w", o.f.Name(), err)
		}
		h.sectorSize = logicalSectorSize(h.fd)
		h.rotational = isRotational(info)
	}
	if haveFadvise {
		if err := adviseAccess(h.fd, p.opts.Advice); err != nil {
			p.log.Debug("fadvise="+p.opts.Advice.String()+" failed; carrying on", "file", o.f.Name(), "err", err)
		}
	}
	if haveSeekHole {
		// nbdkit's test: a file system where this fails cannot tell holes either.
		_, err := seekHole(h.fd, 0)
		h.extents = err == nil
	}
	if p.opts.NoCache {
		h.direct = p.openDirect(o.f, o.writable, h.size)
	}
	return h, nil
}

// openDirect opens f a second time with O_DIRECT, checking with a read that the file
// system really accepts it (some only refuse at the first transfer). It returns nil
// when the file refuses, having logged so.
func (p *Plugin) openDirect(f *os.File, writable bool, size int64) *directIO {
	direct, err := openDirect(f, writable)
	if err == nil && size >= directAlign {
		bufp := p.buffers.get()
		_, err = direct.ReadAt((*bufp)[:directAlign], 0)
		p.buffers.put(bufp)
		if err != nil {
			direct.Close()
			err = fmt.Errorf("reading %s with O_DIRECT: %w", f.Name(), reason(err))
		}
	}
	if err != nil {
		p.directFallback(f.Name(), err)
		return nil
	}
	return &directIO{direct: direct, cached: f, limit: alignDown(size), buffers: p.buffers, edges: &p.edges}
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

// Capabilities answers what the file allows: writing if it was opened for writing,
// trimming and fast zeroing where the system can punch holes, native FUA (fdatasync
// after the request), extents where lseek finds holes, and multi-conn, since every
// connection writes to the same file and a flush on any of them commits all.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.Write = h.writable
	c.Trim = h.writable && haveFallocate
	// Zero never writes zeroes itself: when nothing fast works it returns ENOTSUP,
	// and the server writes them, unless the client asked for a fast zero.
	c.FastZero = h.writable && haveFallocate
	c.FUA = server.FUANative
	c.Extents = h.extents
	c.MultiConn = true
	switch {
	case h.direct != nil:
		c.Cache = server.CacheNone // there is no cache to fill
	case haveFadvise:
		c.Cache = server.CacheNative
	default:
		c.Cache = server.CacheEmulate
	}
	c.Rotational = h.rotational
	return nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	if h.direct != nil {
		return h.direct.readAt(p, off)
	}
	return readFull(h.f, p, off)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	var err error
	if h.direct != nil {
		err = h.direct.writeAt(p, off)
	} else {
		err = writeFull(h.f, p, off)
	}
	if err != nil {
		return err
	}
	return h.syncIfFUA(flags)
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	return fdatasync(h.f)
}

func (h *handle) syncIfFUA(flags server.Flags) error {
	if flags&server.FlagFUA == 0 {
		return nil
	}
	return fdatasync(h.f)
}

// lockEdges, with cache=none, keeps a request that changes part of a block from
// racing a read-modify-write of the same block (see edgeLocks).
func (h *handle) lockEdges(off, length int64) lockedEdges {
	if h.direct == nil {
		return lockedEdges{-1, -1}
	}
	return h.p.edges.lock(off, length)
}

func (h *handle) unlockEdges(held lockedEdges) { h.p.edges.unlock(held) }

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return willNeed(h.fd, off, length)
}

func (h *handle) Close() error {
	var err error
	if h.direct != nil {
		err = h.direct.close()
	}
	if !h.shared {
		if cerr := h.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
