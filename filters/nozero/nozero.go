package nozero

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// ZeroMode says how zero requests are advertised and carried out.
type ZeroMode int

const (
	// ZeroNone does not advertise zeroing: clients write zeroes themselves. The
	// default.
	ZeroNone ZeroMode = iota
	// ZeroEmulate advertises zeroing and carries it out by writing zeroes, whatever
	// the layers behind could do.
	ZeroEmulate
	// ZeroNoTrim passes zero requests on without the may-trim flag.
	ZeroNoTrim
	// ZeroPlugin passes zero requests on unchanged.
	ZeroPlugin
)

// FastZeroMode says how fast zero requests (fail rather than be slow) are handled.
type FastZeroMode int

const (
	// FastZeroDefault fails fast zeroes with ENOTSUP under ZeroEmulate, and leaves
	// them to the layers behind otherwise. The default.
	FastZeroDefault FastZeroMode = iota
	// FastZeroNone does not advertise fast zeroes.
	FastZeroNone
	// FastZeroSlow advertises fast zeroes and fails every one at once with ENOTSUP.
	FastZeroSlow
	// FastZeroIgnore advertises fast zeroes and carries them out as ordinary zeroes,
	// however slow. This goes against the NBD specification; it is for comparisons.
	FastZeroIgnore
)

var (
	zeroModeNames     = [...]string{ZeroNone: "none", ZeroEmulate: "emulate", ZeroNoTrim: "notrim", ZeroPlugin: "plugin"}
	fastZeroModeNames = [...]string{FastZeroDefault: "default", FastZeroNone: "none", FastZeroSlow: "slow", FastZeroIgnore: "ignore"}
)

func (m ZeroMode) String() string     { return name(zeroModeNames[:], int(m), "ZeroMode") }
func (m FastZeroMode) String() string { return name(fastZeroModeNames[:], int(m), "FastZeroMode") }

func name(names []string, i int, typ string) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("%s(%d)", typ, i)
	}
	return names[i]
}

// ParseZeroMode returns the mode a zeromode= value names.
func ParseZeroMode(s string) (ZeroMode, error) {
	for m, n := range zeroModeNames {
		if s == n {
			return ZeroMode(m), nil
		}
	}
	return 0, errors.New("unknown mode (expected none, emulate, notrim or plugin)")
}

// ParseFastZeroMode returns the mode a fastzeromode= value names.
func ParseFastZeroMode(s string) (FastZeroMode, error) {
	for m, n := range fastZeroModeNames {
		if s == n {
			return FastZeroMode(m), nil
		}
	}
	return 0, errors.New("unknown mode (expected none, slow, ignore or default)")
}

// Options configure the filter. The zero value is nbdkit's default: no zeroing.
type Options struct {
	Zero     ZeroMode
	FastZero FastZeroMode
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=nozero PLUGIN [zeromode=none|emulate|notrim|plugin] [fastzeromode=none|slow|ignore|default]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "nozero",
		Version:     moduleVersion(),
		Description: "disable or change zero requests",
		ConfigHelp: "zeromode=none|emulate|notrim|plugin  How zero requests are handled (default none).\n" +
			"fastzeromode=none|slow|ignore|default  How fast zero requests are handled (default default).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			if v, ok := p.Lookup("zeromode"); ok {
				var err error
				if opts.Zero, err = ParseZeroMode(v); err != nil {
					return nil, fmt.Errorf("zeromode=%s: %w", v, err)
				}
			}
			if v, ok := p.Lookup("fastzeromode"); ok {
				var err error
				if opts.FastZero, err = ParseFastZeroMode(v); err != nil {
					return nil, fmt.Errorf("fastzeromode=%s: %w", v, err)
				}
			}
			return New(next, opts), nil
		},
	}
}

// New returns a layer that handles zero requests in front of next as opts say.
func New(next server.Layer, opts Options) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, opts: f.opts}, nil
}

// emulationChunk is the most one emulated zero writes at once.
const emulationChunk = 1 << 20

// errFastZero answers fast zero requests that would be slow.
var errFastZero = server.Errorf(syscall.ENOTSUP, "nozero: fast zero refused")

type handle struct {
	server.PassThroughHandle
	opts Options
	// Set by Prepare.
	zeroes []byte // what emulated zeroes are written from, never modified
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	c, err := h.Next.Capabilities(ctx)
	if err != nil || !c.Write {
		return err
	}
	if (h.opts.Zero == ZeroNoTrim || h.opts.Zero == ZeroPlugin) && !c.Zero {
		return server.Errorf(syscall.EINVAL, "zeromode=%s needs a plugin that can zero", h.opts.Zero)
	}
	if h.opts.Zero == ZeroEmulate {
		chunk := int64(emulationChunk)
		bs, err := h.Next.BlockSize(ctx)
		if err != nil {
			return err
		}
		if bs.Maximum != 0 && int64(bs.Maximum) < chunk {
			chunk = int64(bs.Maximum) // a multiple of the minimum, so aligned writes stay aligned
		}
		h.zeroes = make([]byte, chunk)
	}
	return nil
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil || !c.Write {
		return c, err
	}
	switch h.opts.Zero {
	case ZeroNone:
		c.Zero, c.FastZero = false, false
		return c, nil
	case ZeroEmulate:
		c.Zero, c.FastZero = true, h.opts.FastZero != FastZeroNone
	default:
		switch h.opts.FastZero {
		case FastZeroNone:
			c.FastZero = false
		case FastZeroSlow, FastZeroIgnore:
			c.FastZero = true
		}
	}
	return c, nil
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if flags&server.FlagFastZero != 0 {
		switch {
		case h.opts.FastZero == FastZeroIgnore:
			flags &^= server.FlagFastZero
		case h.opts.FastZero == FastZeroSlow, h.opts.Zero == ZeroEmulate:
			return errFastZero
		}
	}
	switch h.opts.Zero {
	case ZeroEmulate:
		return h.writeZeroes(ctx, off, length, flags&server.FlagFUA)
	case ZeroNoTrim:
		flags &^= server.FlagMayTrim
	}
	return h.Next.Zero(ctx, off, length, flags)
}

// writeZeroes zeroes the range with ordinary writes.
func (h *handle) writeZeroes(ctx context.Context, off, length int64, flags server.Flags) error {
	for length > 0 {
		n := min(length, int64(len(h.zeroes)))
		if err := h.Next.WriteAt(ctx, h.zeroes[:n], off, flags); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}
