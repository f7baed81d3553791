package fua

import (
	"context"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Mode says what the filter does with FUA and flush requests.
type Mode int

const (
	// None stops advertising FUA; flush requests pass through. The default.
	None Mode = iota
	// Emulate advertises FUA and carries it out as a flush after the request, whatever
	// the layers behind could do. They must support flush.
	Emulate
	// Native advertises native FUA and passes the flag on. The layers behind must
	// support FUA in some way.
	Native
	// Force sends every write, trim and zero with FUA (write-through) and turns flush
	// requests into no-ops. The layers behind must support FUA in some way.
	Force
	// Pass changes nothing.
	Pass
	// Discard advertises FUA and flush but ignores both. Unsafe: data a client believes
	// stable may be lost in a crash.
	Discard
)

var modeNames = [...]string{None: "none", Emulate: "emulate", Native: "native", Force: "force", Pass: "pass", Discard: "discard"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode returns the mode a fuamode= value names.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("unknown mode (expected none, emulate, native, force, pass or discard)")
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=fua PLUGIN [fuamode=none|emulate|native|force|pass|discard]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "fua",
		Version:     moduleVersion(),
		Description: "modify flush and Forced Unit Access (FUA)",
		ConfigHelp: "fuamode=none|emulate|native|force|pass|discard\n" +
			"    What to do with FUA and flush (default none: FUA is not advertised).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			mode := None
			if value, ok := p.Lookup("fuamode"); ok {
				var err error
				if mode, err = ParseMode(value); err != nil {
					return nil, fmt.Errorf("fuamode=%s: %w", value, err)
				}
			}
			return New(next, mode), nil
		},
	}
}

// New returns a layer that handles FUA and flush in front of next as mode says.
func New(next server.Layer, mode Mode) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, mode: mode}
}

type filter struct {
	server.PassThrough
	mode Mode
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil || f.mode == Pass {
		return h, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, mode: f.mode}, nil
}

type handle struct {
	server.PassThroughHandle
	mode Mode
}

// Prepare refuses the connection when the layers behind cannot do what the mode needs,
// as nbdkit refuses to load.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	c, err := h.Next.Capabilities(ctx)
	if err != nil || !c.Write {
		return err // nothing to write, nothing to make stable
	}
	switch {
	case h.mode == Emulate && !c.Flush:
		return server.Errorf(syscall.EINVAL, "fuamode=emulate: the plugin does not support flush")
	case (h.mode == Native || h.mode == Force) && c.FUA == server.FUANone:
		return server.Errorf(syscall.EINVAL, "fuamode=%s: the plugin does not support FUA", h.mode)
	}
	return nil
}

func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return c, err
	}
	switch h.mode {
	case None:
		c.FUA = server.FUANone
	case Emulate:
		c.FUA = server.FUAEmulate
	case Native:
		c.FUA = server.FUANative
	case Force, Discard:
		c.FUA = server.FUANative
		c.Flush = true
	}
	if !c.Write {
		c.FUA = server.FUANone
	}
	return c, nil
}

// flags returns the flags to pass on for a request that may carry FUA, and whether to
// flush after it.
func (h *handle) flags(flags server.Flags) (server.Flags, bool) {
	switch h.mode {
	case Emulate:
		return flags &^ server.FlagFUA, flags&server.FlagFUA != 0
	case Force:
		return flags | server.FlagFUA, false
	case Discard, None:
		// None: the client cannot ask for FUA; a filter above that does anyway gets
		// what an export without FUA gives.
		return flags &^ server.FlagFUA, false
	}
	return flags, false
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	flags, flush := h.flags(flags)
	if err := h.Next.WriteAt(ctx, p, off, flags); err != nil {
		return err
	}
	return h.flushIf(ctx, flush)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	flags, flush := h.flags(flags)
	if err := h.Next.Trim(ctx, off, length, flags); err != nil {
		return err
	}
	return h.flushIf(ctx, flush)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	flags, flush := h.flags(flags)
	if err := h.Next.Zero(ctx, off, length, flags); err != nil {
		return err
	}
	return h.flushIf(ctx, flush)
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	if h.mode == Force || h.mode == Discard {
		return nil // every write was already made stable, or stability is given up
	}
	return h.Next.Flush(ctx, flags)
}

func (h *handle) flushIf(ctx context.Context, flush bool) error {
	if !flush {
		return nil
	}
	return h.Next.Flush(ctx, 0)
}
