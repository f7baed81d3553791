package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure a data disk. The zero value is an empty disk; Data or Raw give it
// contents.
type Options struct {
	// Data describes the disk's contents in the data language (see the package
	// documentation), as nbdkit's data= parameter does.
	Data string
	// Raw, when not nil, is the disk's contents byte for byte, instead of Data (which
	// must then be empty): nbdkit's raw= and, once decoded, base64= parameters.
	Raw []byte

	// Size, when HasSize is true, is the disk's virtual size in bytes, from 0 to
	// 2⁶³-1: the contents are cut to it or padded with zeroes. When HasSize is false
	// (the default), the disk is as long as its contents.
	Size    int64
	HasSize bool

	// Variables are the values of the $VARs of Data. A variable not found there is
	// looked up with LookupEnv.
	Variables map[string]string
	// LookupEnv, when not nil, looks up the $VARs that Variables lacks, as
	// os.LookupEnv looks up the environment (which is what the gonbd command gives).
	// The default, nil, finds nothing.
	LookupEnv func(name string) (string, bool)
	// Dir is the directory in which <FILE names are resolved and <(SCRIPT)s run. The
	// default, "", is the current directory.
	Dir string
	// Stderr receives what <(SCRIPT)s write to their standard error. The default, nil,
	// is the process's standard error, as in nbdkit.
	Stderr io.Writer

	// Allocator is how the disk is kept in memory: "sparse" (the default, also when
	// empty), 32 KiB pages made on the first write of something other than zeroes; or
	// "malloc", one buffer of the disk's whole size. "zstd", nbdkit's compressed
	// pages, is accepted and kept as "sparse": the disk reads the same.
	Allocator string
	// Mlock locks the malloc allocator's buffer into RAM (nbdkit's
	// allocator=malloc,mlock=true). Default false.
	Mlock bool
	// Logger receives notices such as the allocator=zstd substitution. The default,
	// nil, discards them.
	Logger *slog.Logger
}

// Allocator names.
const (
	allocatorSparse = "sparse"
	allocatorMalloc = "malloc"
	allocatorZstd   = "zstd"
)

// store is where a disk is kept once evaluated. Offsets and lengths are within the
// disk: the server checks them before a handle is called.
type store interface {
	readAt(p []byte, off int64)
	writeAt(p []byte, off int64)
	// zero makes the range read as zeroes, freeing what memory it can.
	zero(off, length int64)
	extents(off, length int64, e *server.ExtentList) error
}

// Plugin serves a disk made from the data language, raw bytes or base64, held in
// memory and writable, as nbdkit's data plugin does. Every connection sees the same
// disk; writes are lost when the plugin is done with.
//
// The data is parsed by [New], which reports syntax errors, and evaluated by
// [Plugin.GetReady] (the server calls it before it accepts connections), which reads
// the files and runs the scripts the data names.
type Plugin struct {
	opts Options
	body []node // the parsed Data; nil for Raw

	mu    sync.Mutex // guards the fields below, set by GetReady
	store store
	size  int64
}

// New checks opts and parses the data, returning an [*Error] for a syntax error.
func New(opts Options) (*Plugin, error) {
	switch {
	case opts.Raw != nil && opts.Data != "":
		return nil, errors.New("give the contents as Data or as Raw, not both")
	case opts.HasSize && opts.Size < 0:
		return nil, fmt.Errorf("size %d is negative", opts.Size)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch opts.Allocator {
	case "":
		opts.Allocator = allocatorSparse
	case allocatorSparse, allocatorMalloc:
	case allocatorZstd:
		opts.Logger.Info("allocator=zstd: gonbd keeps the pages uncompressed, as allocator=sparse does")
		opts.Allocator = allocatorSparse
	default:
		return nil, fmt.Errorf("unknown allocator %q: the allocators are sparse, malloc and zstd", opts.Allocator)
	}
	if opts.Mlock && opts.Allocator != allocatorMalloc {
		return nil, fmt.Errorf("mlock=true needs allocator=malloc, not allocator=%s", opts.Allocator)
	}
	if opts.Mlock && !canLockMemory {
		return nil, fmt.Errorf("allocator=malloc,mlock=true: %w", lockInMemory(nil))
	}
	p := &Plugin{opts: opts}
	if opts.Raw == nil {
		body, err := parse(opts.Data, p.lookupVariable)
		if err != nil {
			return nil, err
		}
		p.body = body
	}
	return p, nil
}

// lookupVariable returns the value of a $VAR.
func (p *Plugin) lookupVariable(name string) (string, bool) {
	if value, ok := p.opts.Variables[name]; ok {
		return value, true
	}
	if p.opts.LookupEnv != nil {
		return p.opts.LookupEnv(name)
	}
	return "", false
}

// GetReady makes the disk: it evaluates the data (reading files, running scripts),
// cuts or pads it to the size asked for, and moves it to its allocator. It returns an
// [*Error] saying where the data went wrong. Once it has succeeded, further calls do
// nothing. Cancelling ctx stops the evaluation and kills the scripts it runs.
func (p *Plugin) GetReady(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.store != nil {
		return nil
	}
	var contents *canvas
	if p.opts.Raw != nil {
		contents = newCanvas()
		if err := contents.write(p.opts.Raw); err != nil {
			return err
		}
	} else {
		ev := &evaluator{ctx: ctx, dir: p.opts.Dir, stderr: stderrOrDefault(p.opts.Stderr)}
		var err error
		if contents, err = ev.evaluate(p.body); err != nil {
			return err
		}
	}
	size := contents.end
	if p.opts.HasSize {
		size = p.opts.Size
	}
	// What lies past the size can never be read: drop it, so that extents of the
	// last page tell the truth.
	contents.s.zero(size, maxOffset-size)
	p.opts.Logger.Debug("data evaluated", "data_size", contents.end, "size", size)

	if p.opts.Allocator == allocatorMalloc {
		flat, err := newFlatStore(contents.s, size, p.opts.Mlock)
		if err != nil {
			return err
		}
		p.store = flat
	} else {
		p.store = contents.s
	}
	p.size = size
	return nil
}

// Open returns a handle on the disk. Every handle shares the one disk, whatever export
// name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.store == nil {
		return nil, server.Errorf(syscall.EIO, "data: the disk is not ready: GetReady was not called or failed")
	}
	return handle{p.store, p.size}, nil
}

// Cleanup frees the malloc allocator's buffer. No handle may be used afterwards.
func (p *Plugin) Cleanup(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.store.(*flatStore); ok {
		// Nothing useful can be done with an error at shutdown; unmapping only
		// fails for a mapping that was never made.
		_ = f.close()
	}
	p.store = nil
}

// DumpPlugin writes what `gonbd data --dump-plugin` adds, with nbdkit's keys.
func (p *Plugin) DumpPlugin(w io.Writer) {
	fmt.Fprintf(w, "data_base64=yes\n")
	fmt.Fprintf(w, "mlock=%s\n", yesNo(canLockMemory))
	fmt.Fprintf(w, "zstd=no\n")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// handle is one connection's view of the shared disk. Memory has nothing to flush
// and nothing to prefetch, so Flush, Cache and FUA are no-ops that exist to tell
// clients so rather than have the server emulate them.
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
	return h.store.extents(off, length, e)
}

func (h handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities answers as nbdkit's data plugin does: zeroing is always fast, FUA costs
// nothing, and every connection sees the others' writes at once, so clients may spread
// their requests over several connections.
func (h handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.FastZero = c.Zero
	if c.FUA != server.FUANone {
		c.FUA = server.FUANative
	}
	c.MultiConn = true
	c.Cache = server.CacheNative
	return nil
}

// The interfaces the plugin and its handle implement decide what the server offers
// clients; these assertions keep a changed signature from silently dropping one.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Readier             = (*Plugin)(nil)
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
