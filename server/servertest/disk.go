package servertest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// diskBlock is the granularity at which a Disk tracks allocation, for its extents.
const diskBlock = 4096

// A Disk is an in-memory plugin with every capability (write, flush, trim, zero, extents,
// cache, native FUA, multi-conn) that counts its calls, to put behind a filter under test
// and check what reached the plugin. Blocks of 4 KiB are allocated by writes and freed by
// trims and zeroes that cover them whole; its extents report the free ones as holes.
//
// Set the exported fields before serving.
type Disk struct {
	// ReadOnly makes the handles read-only: they implement no write method at all,
	// like a plugin that cannot write.
	ReadOnly bool
	// Fault, when set, is called before each operation ("read", "write", "flush",
	// "trim", "zero", "extents", "cache"); an error it returns fails the operation.
	Fault func(op string, off, length int64) error

	mu        sync.RWMutex
	data      []byte
	allocated []bool // per diskBlock

	counts Counts
}

// Counts are how many calls of each kind reached a Disk, and the bytes moved.
type Counts struct {
	Opens, Closes                                         atomic.Int64
	Reads, Writes, Flushes, Trims, Zeros, Extents, Caches atomic.Int64
	BytesRead, BytesWritten                               atomic.Int64
	// FUA counts the writes, trims and zeroes that carried FlagFUA.
	FUA atomic.Int64
}

// NewDisk returns a Disk of size bytes, all zero and unallocated.
func NewDisk(size int64) *Disk {
	return &Disk{data: make([]byte, size), allocated: make([]bool, (size+diskBlock-1)/diskBlock)}
}

// Counts returns the Disk's counters.
func (d *Disk) Counts() *Counts { return &d.counts }

// Bytes returns a copy of the Disk's contents.
func (d *Disk) Bytes() []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]byte(nil), d.data...)
}

// SetBytes copies p into the Disk at off (allocating what it covers), bypassing the
// counters, to prepare contents.
func (d *Disk) SetBytes(p []byte, off int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.write(p, off)
}

// Allocated reports whether the block holding off is allocated.
func (d *Disk) Allocated(off int64) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.allocated[off/diskBlock]
}

// Layer returns the Disk adapted as a plugin layer named "disk".
func (d *Disk) Layer() server.Layer { return server.PluginLayer("disk", d) }

// Spec returns a plugin spec named "disk" whose New returns d, to build stacks with
// parameters ([StartStack]).
func (d *Disk) Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:        "disk",
		Description: "servertest's in-memory disk",
		New:         func(*server.Params) (server.Plugin, error) { return d, nil },
	}
}

// Open implements server.Plugin.
func (d *Disk) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	d.counts.Opens.Add(1)
	if d.ReadOnly {
		return &diskReader{d}, nil
	}
	return &diskHandle{diskReader{d}}, nil
}

func (d *Disk) fault(op string, off, length int64) error {
	if d.Fault == nil {
		return nil
	}
	return d.Fault(op, off, length)
}

// write copies p to off and allocates the blocks it touches; mu is held.
func (d *Disk) write(p []byte, off int64) {
	copy(d.data[off:], p)
	for b := off / diskBlock; b*diskBlock < off+int64(len(p)); b++ {
		d.allocated[b] = true
	}
}

// zero zeroes [off, off+length) and frees the blocks it covers whole; mu is held.
func (d *Disk) zero(off, length int64) {
	clear(d.data[off : off+length])
	for b := (off + diskBlock - 1) / diskBlock; (b+1)*diskBlock <= off+length; b++ {
		d.allocated[b] = false
	}
	if end := off + length; end == int64(len(d.data)) && end%diskBlock != 0 && off <= end/diskBlock*diskBlock {
		d.allocated[end/diskBlock] = false // the short last block, covered whole
	}
}

// diskReader is a read-only handle of a Disk.
type diskReader struct{ d *Disk }

func (h *diskReader) Size(context.Context) (int64, error) { return int64(len(h.d.data)), nil }

func (h *diskReader) ReadAt(ctx context.Context, p []byte, off int64) error {
	d := h.d
	d.counts.Reads.Add(1)
	if err := d.fault("read", off, int64(len(p))); err != nil {
		return err
	}
	d.mu.RLock()
	copy(p, d.data[off:])
	d.mu.RUnlock()
	d.counts.BytesRead.Add(int64(len(p)))
	return nil
}

func (h *diskReader) Flush(ctx context.Context, flags server.Flags) error {
	h.d.counts.Flushes.Add(1)
	return h.d.fault("flush", 0, 0)
}

func (h *diskReader) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	d := h.d
	d.counts.Extents.Add(1)
	if err := d.fault("extents", off, length); err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	size := int64(len(d.data))
	for b := off / diskBlock; b*diskBlock < off+length; b++ {
		t := server.ExtentHole | server.ExtentZero
		if d.allocated[b] {
			t = server.ExtentData
		}
		start := b * diskBlock
		if err := e.Add(start, min(diskBlock, size-start), t); err != nil {
			return err
		}
	}
	return nil
}

func (h *diskReader) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	h.d.counts.Caches.Add(1)
	return h.d.fault("cache", off, length)
}

func (h *diskReader) Close() error {
	h.d.counts.Closes.Add(1)
	return nil
}

// diskHandle is a writable handle of a Disk.
type diskHandle struct{ diskReader }

func (h *diskHandle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.FUA = server.FUANative
	c.MultiConn = true
	return nil
}

func (h *diskHandle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	d := h.d
	d.counts.Writes.Add(1)
	if flags&server.FlagFUA != 0 {
		d.counts.FUA.Add(1)
	}
	if err := d.fault("write", off, int64(len(p))); err != nil {
		return err
	}
	d.mu.Lock()
	d.write(p, off)
	d.mu.Unlock()
	d.counts.BytesWritten.Add(int64(len(p)))
	return nil
}

func (h *diskHandle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	d := h.d
	d.counts.Trims.Add(1)
	if flags&server.FlagFUA != 0 {
		d.counts.FUA.Add(1)
	}
	if err := d.fault("trim", off, length); err != nil {
		return err
	}
	d.mu.Lock()
	d.zero(off, length)
	d.mu.Unlock()
	return nil
}

func (h *diskHandle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	d := h.d
	d.counts.Zeros.Add(1)
	if flags&server.FlagFUA != 0 {
		d.counts.FUA.Add(1)
	}
	if err := d.fault("zero", off, length); err != nil {
		return err
	}
	d.mu.Lock()
	d.zero(off, length)
	d.mu.Unlock()
	return nil
}
