package sparserandom

import (
	"context"
	"fmt"
	"math"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Defaults of the plugin's parameters, nbdkit's.
const (
	// DefaultPercent is the share of the disk that holds data when Options.Percent
	// is nil.
	DefaultPercent = 10.0
	// DefaultRunLength is the mean length of a run of data when Options.RunLength
	// is 0: 16 MiB.
	DefaultRunLength = 16 << 20
)

// Options configure a sparse random disk. The zero value is a disk of zero bytes.
type Options struct {
	// Size is the disk's size in bytes, from 0 (the default) to 2⁶³-1.
	Size int64
	// Seed selects the layout and the contents: the same seed (and parameters) gives
	// the same disk, in every run and every version of this module, and a bigger disk
	// starts as a smaller one. The command line picks it from the clock when seed=
	// is not given; here 0 is a seed like any other.
	Seed uint32
	// Percent is about how much of the disk holds data, from 0 (all holes) to 100
	// (all data); nil means DefaultPercent (10).
	Percent *float64
	// RunLength is the mean length of a run of data, in bytes; 0 means
	// DefaultRunLength (16 MiB). Runs are whole 4 KiB blocks, so lengths below 4096
	// make runs of one block.
	RunLength int64
	// RandomContent makes every byte of a data block random; by default a data block
	// is one random non-zero byte repeated, which is faster to make and to check.
	RandomContent bool
}

// Plugin is a disk of runs of random data between runs of holes, shaped like a
// virtual machine's disk, which accepts a write only if it writes what is already
// there.
type Plugin struct {
	layout   *layout
	contents contents
}

// New makes a sparse random disk as opts describe, or explains why it cannot.
func New(opts Options) (*Plugin, error) {
	percent := DefaultPercent
	if opts.Percent != nil {
		percent = *opts.Percent
	}
	switch {
	case opts.Size < 0:
		return nil, fmt.Errorf("size %d is negative", opts.Size)
	case math.IsNaN(percent) || percent < 0 || percent > 100:
		return nil, fmt.Errorf("percent %v is not between 0 and 100", percent)
	case opts.RunLength < 0:
		return nil, fmt.Errorf("run length %d is negative", opts.RunLength)
	}
	runLength := opts.RunLength
	if runLength == 0 {
		runLength = DefaultRunLength
	}
	return &Plugin{
		layout:   newLayout(opts.Size, opts.Seed, percent, runLength),
		contents: newContents(opts.Seed, opts.RandomContent),
	}, nil
}

// Open returns a handle on the disk, whatever export name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return &handle{layout: p.layout, contents: p.contents}, nil
}

// handle is one connection's view of the disk, which every connection shares.
type handle struct {
	layout   *layout
	contents contents
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.layout.size, nil }

// ReadAt fills p run by run: zeroes for holes, the contents for data.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	c := h.layout.cursorAt(off / blockSize)
	for len(p) > 0 {
		endBlock, data := c.next()
		n := min(int64(len(p)), h.layout.offset(endBlock)-off)
		if data {
			h.contents.fill(p[:n], off)
		} else {
			clear(p[:n])
		}
		p, off = p[n:], off+n
	}
	return nil
}

// WriteAt checks that p is what the disk holds at off, and fails with EIO if not.
// Copying the disk onto itself (nbdcopy "$uri" "$uri") thus tests that a copying
// program puts every byte where it belongs.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	c := h.layout.cursorAt(off / blockSize)
	for start := off; len(p) > 0; {
		endBlock, data := c.next()
		n := min(int64(len(p)), h.layout.offset(endBlock)-off)
		at := indexNot(p[:n], 0)
		if data {
			at = h.contents.mismatch(p[:n], off)
		}
		if at >= 0 {
			return server.Errorf(syscall.EIO,
				"data written at %d does not match the disk at offset %d", start, off+int64(at))
		}
		p, off = p[n:], off+n
	}
	return nil
}

// Trim and Zero succeed only on holes, which already read as zeroes: the data of the
// disk cannot change.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.checkHoles("trim", off, length)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.checkHoles("zero", off, length)
}

// checkHoles fails with EIO unless [off, off+length) lies in holes.
func (h *handle) checkHoles(op string, off, length int64) error {
	c := h.layout.cursorAt(off / blockSize)
	for pos := off; pos < off+length; {
		endBlock, data := c.next()
		if data {
			return server.Errorf(syscall.EIO, "%s of %d bytes at %d: the disk holds data at offset %d", op, length, off, pos)
		}
		pos = h.layout.offset(endBlock)
	}
	return nil
}

// maxExtentsPerRequest bounds the work of one block status request on a disk of
// tiny runs; the client asks again from where the answer stopped.
const maxExtentsPerRequest = 1 << 16

// Extents reports the runs: holes that read as zeroes, and data.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	c := h.layout.cursorAt(off / blockSize)
	start := h.layout.offset(c.pos)
	for added := 0; start < off+length && added < maxExtentsPerRequest; added++ {
		endBlock, data := c.next()
		end := h.layout.offset(endBlock)
		t := server.ExtentHole | server.ExtentZero
		if data {
			t = server.ExtentData
		}
		if err := e.Add(start, end-start, t); err != nil {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			break
		}
		start = end
	}
	return nil
}

// Flush has nothing to do: nothing is ever stored. It exists, with native FUA, to
// offer clients what nbdkit's sparse-random plugin offers.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error { return nil }

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities adds what the interfaces do not say: FUA costs nothing, every
// connection sees the same disk, and it is computed, so there is nothing to prefetch.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	if c.FUA != server.FUANone {
		c.FUA = server.FUANative
	}
	c.MultiConn = true
	c.Cache = server.CacheNative
	return nil
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Writer              = (*handle)(nil)
	_ server.Flusher             = (*handle)(nil)
	_ server.Trimmer             = (*handle)(nil)
	_ server.Zeroer              = (*handle)(nil)
	_ server.Extenter            = (*handle)(nil)
	_ server.Cacher              = (*handle)(nil)
	_ server.CapabilityOverrider = (*handle)(nil)
)
