package blocksizepolicy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options say what block size constraints to advertise and what to do with requests
// that break them. A zero constraint keeps the plugin's, or the default when the plugin
// has none (minimum 1, preferred 4096 or the minimum, maximum 0xffffffff).
type Options struct {
	Minimum, Preferred, Maximum uint32
	// Error refuses requests that break the constraints with EINVAL before the
	// plugin sees them (blocksize-error-policy=error); false passes them on (allow).
	Error bool
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=blocksize-policy PLUGIN [blocksize-error-policy=allow|error]
//	    [blocksize-minimum=N] [blocksize-preferred=N] [blocksize-maximum=N]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "blocksize-policy",
		Version:     moduleVersion(),
		Description: "set the advertised block size constraints and the error policy",
		ConfigHelp: "blocksize-error-policy=allow|error  Pass on or refuse (EINVAL) requests that break the constraints.\n" +
			"blocksize-minimum=<N>    Minimum block size to advertise (power of 2, ≤ 64k).\n" +
			"blocksize-preferred=<N>  Preferred block size to advertise (power of 2, 512 to 32M).\n" +
			"blocksize-maximum=<N>    Maximum block size to advertise (a multiple of the minimum).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			switch policy := p.String("blocksize-error-policy", "allow"); policy {
			case "allow":
			case "error":
				opts.Error = true
			default:
				return nil, fmt.Errorf("blocksize-error-policy=%s: unknown policy (expected allow or error)", policy)
			}
			for _, param := range []struct {
				key string
				dst *uint32
			}{{"blocksize-minimum", &opts.Minimum}, {"blocksize-preferred", &opts.Preferred}, {"blocksize-maximum", &opts.Maximum}} {
				n, err := p.Size(param.key, 0)
				if err != nil {
					return nil, err
				}
				if n > math.MaxUint32 {
					return nil, fmt.Errorf("%s=%d: must be at most 4294967295", param.key, n)
				}
				*param.dst = uint32(n)
			}
			return New(next, opts)
		},
	}
}

// New returns a layer in front of next that advertises the constraints of opts and,
// with opts.Error, refuses requests that break them.
func New(next server.Layer, opts Options) (server.Layer, error) {
	isPowerOf2 := func(n uint32) bool { return n&(n-1) == 0 }
	switch m, p, x := opts.Minimum, opts.Preferred, opts.Maximum; {
	case m != 0 && (!isPowerOf2(m) || m > 64<<10):
		return nil, fmt.Errorf("blocksize-minimum=%d: must be a power of 2 between 1 and 64k", m)
	case p != 0 && (!isPowerOf2(p) || p < 512 || p > 32<<20):
		return nil, fmt.Errorf("blocksize-preferred=%d: must be a power of 2 between 512 and 32M", p)
	case m != 0 && p != 0 && p < m:
		return nil, fmt.Errorf("blocksize-preferred=%d: must be at least blocksize-minimum (%d)", p, m)
	case x != 0 && p != 0 && x < p:
		return nil, fmt.Errorf("blocksize-maximum=%d: must be at least blocksize-preferred (%d)", x, p)
	case x != 0 && m != 0 && x != math.MaxUint32 && x%m != 0:
		return nil, fmt.Errorf("blocksize-maximum=%d: must be a multiple of blocksize-minimum (%d), or 4294967295", x, m)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
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

type handle struct {
	server.PassThroughHandle
	opts Options
	// Set by Prepare.
	bs   server.BlockSize
	size int64
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	if h.size, err = h.Next.Size(ctx); err != nil {
		return err
	}
	pick := func(set, plugin, def uint32) uint32 {
		switch {
		case set != 0:
			return set
		case plugin != 0:
			return plugin
		}
		return def
	}
	h.bs.Minimum = pick(h.opts.Minimum, bs.Minimum, 1)
	h.bs.Preferred = pick(h.opts.Preferred, bs.Preferred, max(4096, h.bs.Minimum))
	h.bs.Maximum = pick(h.opts.Maximum, bs.Maximum, math.MaxUint32)
	if err := check(h.bs); err != nil {
		return server.Errorf(syscall.EINVAL, "blocksize-policy: %w (minimum %d, preferred %d, maximum %d, with the plugin's)",
			err, h.bs.Minimum, h.bs.Preferred, h.bs.Maximum)
	}
	return nil
}

// check tells whether constraints combined from the parameters and the plugin hold
// together.
func check(bs server.BlockSize) error {
	switch {
	case bs.Preferred < bs.Minimum || bs.Maximum < bs.Preferred:
		return errors.New("the block size constraints must hold minimum ≤ preferred ≤ maximum")
	case bs.Maximum != math.MaxUint32 && bs.Maximum%bs.Minimum != 0:
		return errors.New("the maximum block size must be a multiple of the minimum")
	}
	return nil
}

func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) { return h.bs, nil }

// refuse returns EINVAL, under the error policy, for a request not aligned to the
// minimum (but for an unaligned tail ending the export) or, with data, larger than
// the maximum.
func (h *handle) refuse(op string, off, length int64, data bool) error {
	if !h.opts.Error {
		return nil
	}
	m := int64(h.bs.Minimum)
	switch {
	case off%m != 0 || length%m != 0 && off+length != h.size:
		return server.Errorf(syscall.EINVAL, "blocksize-policy: %s of %d bytes at %d is not aligned to the minimum block size %d", op, length, off, m)
	case data && length > int64(h.bs.Maximum):
		return server.Errorf(syscall.EINVAL, "blocksize-policy: %s of %d bytes is larger than the maximum block size %d", op, length, h.bs.Maximum)
	}
	return nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.refuse("read", off, int64(len(p)), true); err != nil {
		return err
	}
	return h.Next.ReadAt(ctx, p, off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.refuse("write", off, int64(len(p)), true); err != nil {
		return err
	}
	return h.Next.WriteAt(ctx, p, off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.refuse("trim", off, length, false); err != nil {
		return err
	}
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.refuse("zero", off, length, false); err != nil {
		return err
	}
	return h.Next.Zero(ctx, off, length, flags)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.refuse("cache", off, length, false); err != nil {
		return err
	}
	return h.Next.Cache(ctx, off, length, flags)
}
