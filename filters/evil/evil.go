package evil

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Mode says how reads are corrupted.
type Mode int

const (
	// StuckBits: bits at fixed places of the disk read as stuck high or low, the same
	// at every read, as bad storage would. The default.
	StuckBits Mode = iota
	// CosmicRays: bits of each read flip at random, differently at every read.
	CosmicRays
	// StuckWires: bits at fixed places of every read buffer (the 100th bit of each
	// read, say) read as stuck high or low, as a broken data path would.
	StuckWires
)

var modeNames = [...]string{StuckBits: "stuck-bits", CosmicRays: "cosmic-rays", StuckWires: "stuck-wires"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode returns the mode an evil= value names.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), nil
		}
	}
	return 0, errors.New("unknown mode (expected cosmic-rays, stuck-bits or stuck-wires)")
}

// DefaultProbability is nbdkit's default: one bit in a hundred million.
const DefaultProbability = 1e-8

// Options configure the filter.
type Options struct {
	Mode Mode
	// Probability is the chance of each bit to be corrupted: at each read for
	// CosmicRays, once and for all for StuckBits and StuckWires. From 0 to 1.
	Probability float64
	// StuckProbability is the chance that a read sees a stuck bit as stuck (else it
	// reads the right value), for StuckBits and StuckWires. From 0 to 1; 1 is
	// nbdkit's default.
	StuckProbability float64
	// Seed makes the corruption repeatable: the same seed and the same reads give
	// the same damage.
	Seed uint64
	// Logger receives the seed at debug level. Default: discard.
	Logger *slog.Logger
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=evil PLUGIN [evil=cosmic-rays|stuck-bits|stuck-wires]
//	      [evil-probability=PROB] [evil-stuck-probability=PROB] [evil-seed=SEED]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "evil",
		Version:     moduleVersion(),
		Description: "corrupt the data that clients read, at random",
		ConfigHelp: "evil=cosmic-rays|stuck-bits|stuck-wires  How to corrupt reads (default stuck-bits).\n" +
			"evil-probability=PROB  The chance of each bit to be corrupted (default 1e-8).\n" +
			"evil-stuck-probability=PROB  The chance that a read sees a stuck bit (default 1).\n" +
			"evil-seed=SEED  Makes the corruption repeatable (default: random).\n" +
			"PROB is a number (1e-6), N in M (1:1000000) or a percentage (0.1%).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Probability: DefaultProbability, StuckProbability: 1, Logger: p.Logger}
			var err error
			if v, ok := p.Lookup("evil"); ok {
				if opts.Mode, err = ParseMode(v); err != nil {
					return nil, fmt.Errorf("evil=%s: %w", v, err)
				}
			}
			for _, prob := range []struct {
				key string
				dst *float64
			}{{"evil-probability", &opts.Probability}, {"evil-stuck-probability", &opts.StuckProbability}} {
				if v, ok := p.Lookup(prob.key); ok {
					if *prob.dst, err = ParseProbability(v); err != nil {
						return nil, fmt.Errorf("%s=%s: %w", prob.key, v, err)
					}
				}
			}
			if v, ok := p.Lookup("evil-seed"); ok {
				if opts.Seed, err = server.ParseUint(v, 64); err != nil {
					return nil, fmt.Errorf("evil-seed=%s: %w", v, err)
				}
			} else {
				opts.Seed = randomSeed()
			}
			return New(next, opts)
		},
	}
}

// randomSeed returns a seed for runs that did not ask for one.
func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand crashes the program rather)
	return binary.LittleEndian.Uint64(b[:])
}

// New returns a layer that corrupts what clients read from next as opts say.
func New(next server.Layer, opts Options) (*Filter, error) {
	switch {
	case opts.Mode < 0 || int(opts.Mode) >= len(modeNames):
		return nil, fmt.Errorf("evil: unknown mode %v", opts.Mode)
	case !(opts.Probability >= 0 && opts.Probability <= 1):
		return nil, fmt.Errorf("evil: probability %v is not between 0 and 1", opts.Probability)
	case !(opts.StuckProbability >= 0 && opts.StuckProbability <= 1):
		return nil, fmt.Errorf("evil: stuck probability %v is not between 0 and 1", opts.StuckProbability)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger.Debug("corrupting reads", "mode", opts.Mode, "probability", opts.Probability,
		"stuck_probability", opts.StuckProbability, "seed", opts.Seed)
	return &Filter{PassThrough: server.PassThrough{Next: next}, c: newCorrupter(opts)}, nil
}

// A Filter corrupts reads.
type Filter struct {
	server.PassThrough
	c *corrupter
}

// Corruptions returns how many bits the filter has changed so far.
func (f *Filter) Corruptions() uint64 { return f.c.corruptions.Load() }

func (f *Filter) Name() string { return "evil" }

func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, c: f.c}, nil
}

type handle struct {
	server.PassThroughHandle
	c *corrupter
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.Next.ReadAt(ctx, p, off, flags); err != nil {
		return err
	}
	h.c.corrupt(p, off)
	return nil
}

// extentLists holds the lists Extents asks the layers behind about; pooled, so that
// block status allocates nothing once warm.
var extentLists = sync.Pool{New: func() any { return new(server.ExtentList) }}

// Extents reports what the layers behind report, except that nothing reads as zeroes
// any more: the corruption reaches holes too. (The server skips reading ranges that
// read as zeroes, and clients trust them to.)
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	if h.c.p <= 0 {
		return h.Next.Extents(ctx, off, length, flags, e)
	}
	inner := extentLists.Get().(*server.ExtentList)
	defer extentLists.Put(inner)
	inner.Reset(off, off+length)
	if err := h.Next.Extents(ctx, off, length, flags, inner); err != nil {
		return err
	}
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset, x.Length, x.Type&^server.ExtentZero); err != nil {
			return err
		}
	}
	return nil
}
