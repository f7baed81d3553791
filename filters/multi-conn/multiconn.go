package multiconn

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Mode says whether multi-conn is advertised, and whether flushes are replicated across
// connections to provide it.
type Mode int

const (
	// Auto is Disable under a thread model that serializes connections, Plugin when
	// the plugin advertises multi-conn, and Emulate otherwise. The default.
	Auto Mode = iota
	// Emulate advertises multi-conn and replicates every flush (and FUA, done as a
	// flush) to every connection. The plugin must support flush.
	Emulate
	// Plugin advertises multi-conn when the plugin does, replicating nothing.
	Plugin
	// Unsafe advertises multi-conn whatever the plugin does. Data may be corrupted if
	// clients rely on it.
	Unsafe
	// Disable never advertises multi-conn.
	Disable
)

// TrackDirty says how the filter decides that a flush can be skipped.
type TrackDirty int

const (
	// TrackConnection flushes a connection only if it wrote, trimmed or zeroed since
	// its last flush, or read since any flush. The default.
	TrackConnection TrackDirty = iota
	// TrackFast skips every flush while no connection has written, trimmed or zeroed
	// since the last flush anywhere.
	TrackFast
	// TrackOff passes every flush on.
	TrackOff
)

var (
	modeNames  = [...]string{Auto: "auto", Emulate: "emulate", Plugin: "plugin", Unsafe: "unsafe", Disable: "disable"}
	trackNames = [...]string{TrackConnection: "connection", TrackFast: "fast", TrackOff: "off"}
)

func (m Mode) String() string       { return name(modeNames[:], int(m), "Mode") }
func (t TrackDirty) String() string { return name(trackNames[:], int(t), "TrackDirty") }

func name(names []string, i int, typ string) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("%s(%d)", typ, i)
	}
	return names[i]
}

// Options configure the filter. The zero value is nbdkit's default.
type Options struct {
	Mode       Mode
	TrackDirty TrackDirty
	// ByExportName replicates flushes only to connections of the same export name,
	// for plugins whose exports hold separate data.
	ByExportName bool
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=multi-conn PLUGIN [multi-conn-mode=MODE] [multi-conn-track-dirty=LEVEL]
//	    [multi-conn-exportname=BOOL]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "multi-conn",
		Version:     moduleVersion(),
		Description: "enable, emulate or disable multi-conn",
		ConfigHelp: "multi-conn-mode=auto|emulate|plugin|unsafe|disable  Whether and how multi-conn is offered (default auto).\n" +
			"multi-conn-track-dirty=connection|fast|off  Which flushes may be skipped (default connection).\n" +
			"multi-conn-exportname=<BOOL>  Replicate flushes within one export name only (default false).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			if v, ok := p.Lookup("multi-conn-mode"); ok {
				i := slices.Index(modeNames[:], v)
				if i < 0 {
					return nil, fmt.Errorf("multi-conn-mode=%s: unknown mode (expected auto, emulate, plugin, unsafe or disable)", v)
				}
				opts.Mode = Mode(i)
			}
			if v, ok := p.Lookup("multi-conn-track-dirty"); ok {
				i := slices.Index(trackNames[:], v)
				if i < 0 {
					return nil, fmt.Errorf("multi-conn-track-dirty=%s: unknown level (expected connection, fast or off)", v)
				}
				opts.TrackDirty = TrackDirty(i)
			}
			var err error
			if opts.ByExportName, err = p.Bool("multi-conn-exportname", false); err != nil {
				return nil, err
			}
			return New(next, opts), nil
		},
	}
}

// New returns a layer in front of next that offers multi-conn as opts say. Its
// connections are tracked together: make one layer per stack.
func New(next server.Layer, opts Options) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, conns: make(map[*handle]struct{})}
}

type filter struct {
	server.PassThrough
	opts Options

	// mu guards conns, every handle's dirty bits and dirty, and is held through the
	// flushes it decides, so that a connection cannot end while it is being flushed.
	mu    sync.Mutex
	conns map[*handle]struct{}
	dirty bool // under TrackFast: something was written since the last flush
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f, name: req.ExportName}, nil
}

// Dirty bits of a connection.
const (
	dirtyWrite = 1 << iota // written, trimmed or zeroed since its last flush
	dirtyRead              // read since its last flush: its cache may be stale
)

type handle struct {
	server.PassThroughHandle
	f    *filter
	name string
	// Set by Prepare.
	mode     Mode // never Auto
	canFlush bool
	// dirty holds the dirty bits; under f.mu.
	dirty uint8
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return err
	}
	h.mode, h.canFlush = h.f.opts.Mode, c.Flush
	if h.mode == Auto {
		switch {
		case h.f.ThreadModel() == server.SerializeConnections:
			h.mode = Disable
		case c.MultiConn:
			h.mode = Plugin
		default:
			h.mode = Emulate
		}
	}
	if h.mode == Emulate && !c.Flush {
		return server.Errorf(syscall.EINVAL, "multi-conn-mode=emulate needs a plugin that supports flush")
	}
	h.f.mu.Lock()
	h.f.conns[h] = struct{}{}
	h.f.mu.Unlock()
	return nil
}

func (h *handle) Finalize(ctx context.Context) error {
	h.f.mu.Lock()
	delete(h.f.conns, h)
	h.f.mu.Unlock()
	return h.Next.Finalize(ctx)
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return c, err
	}
	switch h.mode {
	case Emulate:
		c.MultiConn = true
		if c.Write {
			// FUA must reach every connection too: it becomes a replicated flush.
			c.FUA = server.FUAEmulate
		}
	case Unsafe:
		c.MultiConn = true
	case Disable:
		c.MultiConn = false
	}
	return c, nil
}

// mark records that h did something that makes it dirty.
func (h *handle) mark(bit uint8) {
	if h.f.opts.TrackDirty == TrackOff {
		return
	}
	h.f.mu.Lock()
	h.dirty |= bit
	if bit == dirtyWrite {
		h.f.dirty = true
	}
	h.f.mu.Unlock()
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.mark(dirtyRead)
	return h.Next.ReadAt(ctx, p, off, flags)
}

// splitFUA returns the flags to pass on and whether to flush after: under Emulate, FUA
// is a flush of every connection.
func (h *handle) splitFUA(flags server.Flags) (server.Flags, bool) {
	if h.mode == Emulate && flags&server.FlagFUA != 0 {
		return flags &^ server.FlagFUA, true
	}
	return flags, false
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.mark(dirtyWrite)
	flags, flush := h.splitFUA(flags)
	if err := h.Next.WriteAt(ctx, p, off, flags); err != nil || !flush {
		return err
	}
	return h.Flush(ctx, 0)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	h.mark(dirtyWrite)
	flags, flush := h.splitFUA(flags)
	if err := h.Next.Trim(ctx, off, length, flags); err != nil || !flush {
		return err
	}
	return h.Flush(ctx, 0)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	h.mark(dirtyWrite)
	flags, flush := h.splitFUA(flags)
	if err := h.Next.Zero(ctx, off, length, flags); err != nil || !flush {
		return err
	}
	return h.Flush(ctx, 0)
}

// Flush flushes h, and under Emulate every other connection (of the same export name
// with ByExportName), skipping those the dirty tracking finds clean.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	track := f.opts.TrackDirty
	if track == TrackFast && !f.dirty {
		return nil
	}
	targets := []*handle{h}
	if h.mode == Emulate {
		targets = targets[:0]
		for c := range f.conns {
			if c.canFlush && (!f.opts.ByExportName || c.name == h.name) {
				targets = append(targets, c)
			}
		}
	}
	for _, c := range targets {
		if track == TrackConnection && c.dirty == 0 {
			continue
		}
		if err := c.Next.Flush(ctx, flags); err != nil {
			return err
		}
		c.dirty = 0
	}
	if track == TrackFast {
		f.dirty = false
		for c := range f.conns {
			c.dirty = 0
		}
	}
	return nil
}
