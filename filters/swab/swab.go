package swab

import (
	"context"
	"fmt"
	"math"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=swab PLUGIN [swab-bits=8|16|32|64]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "swab",
		Version:     moduleVersion(),
		Description: "swap the byte order of the plugin's data",
		ConfigHelp:  "swab-bits=8|16|32|64  Size of the words whose bytes are swapped (default 16; 8 does nothing).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			bits, err := p.Uint32("swab-bits", 16)
			if err != nil {
				return nil, err
			}
			return New(next, int(bits))
		},
	}
}

// New returns a layer that reverses the order of the bytes in each word of bits bits
// (8, 16, 32 or 64) of next's data. Requests must be aligned to the word size; the size
// is rounded down to it.
func New(next server.Layer, bits int) (server.Layer, error) {
	switch bits {
	case 8, 16, 32, 64:
	default:
		return nil, fmt.Errorf("swab-bits=%d: must be 8, 16, 32 or 64", bits)
	}
	f := &filter{PassThrough: server.PassThrough{Next: next}, word: int64(bits / 8)}
	f.buffers.New = func() any { return new([]byte) }
	return f, nil
}

type filter struct {
	server.PassThrough
	word int64 // bytes per word
	// buffers holds the *[]byte that writes are swapped into, since a write's buffer
	// belongs to the server and must not be changed.
	buffers sync.Pool
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil || f.word == 1 {
		return h, err // swab-bits=8 turns the filter off
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

type handle struct {
	server.PassThroughHandle
	f *filter
}

// Size rounds next's size down to whole words, the unaligned tail being unreachable.
func (h *handle) Size(ctx context.Context) (int64, error) {
	size, err := h.Next.Size(ctx)
	return size / h.f.word * h.f.word, err
}

// BlockSize makes the word the smallest unit of I/O, so that well-behaved clients
// send aligned requests.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return bs, err
	}
	w := uint32(h.f.word)
	if bs == (server.BlockSize{}) {
		return server.BlockSize{Minimum: w, Preferred: 512, Maximum: math.MaxUint32}, nil
	}
	bs.Minimum = max(bs.Minimum, w)
	bs.Preferred = max(bs.Preferred, w)
	if bs.Maximum != math.MaxUint32 {
		bs.Maximum = bs.Maximum / bs.Minimum * bs.Minimum
	}
	return bs, nil
}

func (h *handle) checkAligned(op string, off, length int64) error {
	if off%h.f.word != 0 || length%h.f.word != 0 {
		return server.Errorf(syscall.EINVAL, "swab: %s of %d bytes at %d is not aligned to %d-bit words", op, length, off, h.f.word*8)
	}
	return nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.checkAligned("read", off, int64(len(p))); err != nil {
		return err
	}
	if err := h.Next.ReadAt(ctx, p, off, flags); err != nil {
		return err
	}
	swap(p, p, h.f.word)
	return nil
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	if err := h.checkAligned("write", off, int64(len(p))); err != nil {
		return err
	}
	bufp := h.f.buffers.Get().(*[]byte)
	defer h.f.buffers.Put(bufp)
	if cap(*bufp) < len(p) {
		*bufp = make([]byte, len(p))
	}
	buf := (*bufp)[:len(p)]
	swap(buf, p, h.f.word)
	return h.Next.WriteAt(ctx, buf, off, flags)
}

// Trim and Zero need no swapping (zeroes are zeroes in any order), only alignment, so
// that the words they leave are whole.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.checkAligned("trim", off, length); err != nil {
		return err
	}
	return h.Next.Trim(ctx, off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if err := h.checkAligned("zero", off, length); err != nil {
		return err
	}
	return h.Next.Zero(ctx, off, length, flags)
}
