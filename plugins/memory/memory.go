package memory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options configure a memory disk. Only Size needs setting; the zero value of every other
// field is its default.
type Options struct {
	// Size is the virtual size of the disk in bytes, from 0 to 2⁶³-1. The disk starts
	// out all zeroes.
	Size int64
	// Allocator is how the disk is kept in memory:
	//   - "sparse" (the default, also when empty): pages allocated on first write and
	//     freed by trim and zero, so the size may far exceed RAM;
	//   - "malloc": one contiguous buffer of Size bytes, committed by the system as it
	//     is touched;
	//   - "zstd": the sparse allocator's pages, each kept compressed with zstd, so
	//     that the disk holds about twice the data in the same memory, at the cost
	//     of compressing every write and decompressing every read.
	Allocator string
	// Mlock locks the whole disk into RAM so that it is never swapped out. Default
	// false. Only the malloc allocator supports it, and only on platforms with
	// mlock(2).
	Mlock bool
	// Logger receives debug messages, such as the zstd allocator's compression
	// ratio (every minute while it changes, and at Cleanup). nil discards them.
	Logger *slog.Logger
}

// Allocator names.
const (
	allocatorSparse = "sparse"
	allocatorMalloc = "malloc"
	allocatorZstd   = "zstd"
)

// store is where an allocator keeps the disk. Offsets and lengths are within the disk:
// the server checks them before a handle is called.
type store interface {
	readAt(p []byte, off int64)
	writeAt(p []byte, off int64)
	// zero makes the range read as zeroes, freeing what memory it can.
	zero(off, length int64)
	extents(off, length int64, flags server.Flags, e *server.ExtentList) error
	// allocatedPages returns how many pageSize pages of memory the store holds.
	allocatedPages() int64
	release() error
}

// Plugin is a RAM disk. Every connection it opens sees the same disk.
type Plugin struct {
	opts  Options
	store store
	log   *slog.Logger

	// stopStats ends the goroutine that logs the zstd allocator's ratio, and
	// statsDone is closed when it has; both are nil for the other allocators.
	stopStats chan struct{}
	statsDone chan struct{}
	cleanup   sync.Once
}

// New makes a RAM disk as opts describe, or explains why it cannot.
func New(opts Options) (*Plugin, error) {
	if opts.Size < 0 {
		return nil, fmt.Errorf("size %d is negative", opts.Size)
	}
	if opts.Allocator == "" {
		opts.Allocator = allocatorSparse
	}
	if opts.Mlock && opts.Allocator != allocatorMalloc {
		return nil, fmt.Errorf("mlock=true needs allocator=malloc, not allocator=%s", opts.Allocator)
	}
	if opts.Mlock && !canLockMemory {
		return nil, fmt.Errorf("allocator=malloc,mlock=true: %w", lockInMemory(nil))
	}
	var s store
	switch opts.Allocator {
	case allocatorSparse:
		s = newSparseStore(opts.Size)
	case allocatorMalloc:
		m, err := newMallocStore(opts.Size, opts.Mlock)
		if err != nil {
			return nil, err
		}
		s = m
	case allocatorZstd:
		z, err := newZstdStore(opts.Size)
		if err != nil {
			return nil, err
		}
		s = z
	default:
		return nil, fmt.Errorf("unknown allocator %q: the allocators are sparse, malloc and zstd", opts.Allocator)
	}
	p := &Plugin{opts: opts, store: s, log: opts.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if z, ok := s.(*zstdStore); ok {
		p.stopStats, p.statsDone = make(chan struct{}), make(chan struct{})
		go p.logStats(z)
	}
	return p, nil
}

// statsInterval is how often the zstd allocator's compression ratio is logged while it
// changes.
const statsInterval = time.Minute

// logStats logs z's compression ratio every statsInterval while it changes, until
// stopStats is closed.
func (p *Plugin) logStats(z *zstdStore) {
	defer close(p.statsDone)
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	var lastPages, lastCompressed int64
	for {
		select {
		case <-p.stopStats:
			return
		case <-tick.C:
			if pages, compressed := z.stats(); pages != lastPages || compressed != lastCompressed {
				lastPages, lastCompressed = pages, compressed
				p.logRatio(z, "allocator=zstd")
			}
		}
	}
}

// logRatio logs how much memory z's pages take against what they hold.
func (p *Plugin) logRatio(z *zstdStore, msg string) {
	pages, compressed := z.stats()
	ratio := 0.0
	if compressed > 0 {
		ratio = float64(pages*pageSize) / float64(compressed)
	}
	p.log.Debug(msg, "pages", pages, "data_bytes", pages*pageSize, "compressed_bytes", compressed,
		"ratio", fmt.Sprintf("%.2f", ratio))
}

// Open returns a handle on the disk. Every handle shares the one disk, whatever export
// name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return handle{p.store, p.opts.Size}, nil
}

// Cleanup frees the disk's memory. No handle may be used afterwards.
func (p *Plugin) Cleanup(ctx context.Context) {
	p.cleanup.Do(func() {
		if z, ok := p.store.(*zstdStore); ok {
			close(p.stopStats)
			<-p.statsDone
			p.logRatio(z, "allocator=zstd at cleanup")
		}
		// Nothing useful can be done with an error at shutdown; an unmap only fails
		// for a mapping that was never made.
		_ = p.store.release()
	})
}

// DumpPlugin writes what `gonbd memory --dump-plugin` adds, with nbdkit's keys: whether
// mlock=true and allocator=zstd can work in this build.
func (p *Plugin) DumpPlugin(w io.Writer) {
	fmt.Fprintf(w, "mlock=%s\n", yesNo(canLockMemory))
	fmt.Fprintf(w, "zstd=%s\n", yesNo(true))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// allocatedBytes returns how much memory the disk holds, for tests.
func (p *Plugin) allocatedBytes() int64 { return p.store.allocatedPages() * pageSize }

// handle is one connection's view of the shared disk. Memory has nothing to flush and
// nothing to prefetch, so Flush, Cache and FUA are no-ops that exist to tell clients so
// rather than have the server emulate them.
type handle struct {
	store store
	size  int64
}

func (h handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	h.store.readAt(p, off)
	return nil
}

func (h handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.store.writeAt(p, off)
	return nil
}

func (h handle) Flush(ctx context.Context, flags server.Flags) error { return nil }

func (h handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	h.store.zero(off, length)
	return nil
}

func (h handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	h.store.zero(off, length)
	return nil
}

func (h handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return h.store.extents(off, length, flags, e)
}

func (h handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities answers as nbdkit's memory plugin does: zeroing is always fast, FUA costs
// nothing, and every connection sees the others' writes at once, so clients may spread
// their requests over several connections.
func (h handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.FastZero = c.Zero
	if c.FUA != server.FUANone {
		c.FUA = server.FUANative
	}
	c.MultiConn = true
	c.Cache = server.CacheNative
	c.Rotational = false
	return nil
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Cleaner             = (*Plugin)(nil)
	_ server.PluginDumper        = (*Plugin)(nil)
	_ server.Writer              = handle{}
	_ server.Flusher             = handle{}
	_ server.Trimmer             = handle{}
	_ server.Zeroer              = handle{}
	_ server.Extenter            = handle{}
	_ server.Cacher              = handle{}
	_ server.CapabilityOverrider = handle{}
)
