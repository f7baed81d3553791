package nocache

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Mode says what the filter does with cache requests.
type Mode int

const (
	// None stops clients from sending cache requests: the export does not advertise them.
	None Mode = iota
	// Emulate advertises cache requests and serves them by reading the range from the
	// next layer and throwing the data away, whatever the next layer could do.
	Emulate
	// Nop advertises cache requests and answers them at once without doing anything.
	Nop
)

// ParseMode parses the value of cachemode=.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "none":
		return None, nil
	case "emulate":
		return Emulate, nil
	case "nop":
		return Nop, nil
	}
	return None, fmt.Errorf("cachemode=%s: unknown mode (expected none, emulate or nop)", s)
}

func (m Mode) String() string {
	switch m {
	case None:
		return "none"
	case Emulate:
		return "emulate"
	case Nop:
		return "nop"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// emulationChunk is the most one emulated cache request reads at once: enough to keep
// the calls few, little enough not to pin much memory per request.
const emulationChunk = 1 << 20

// Filter is the nocache filter in front of the next layer.
type Filter struct {
	server.PassThrough
	mode Mode
	// buffers holds the *[]byte that emulated cache requests read into.
	buffers sync.Pool
}

// New returns the filter in front of next, handling cache requests as mode says.
func New(next server.Layer, mode Mode) *Filter {
	return &Filter{
		PassThrough: server.PassThrough{Next: next},
		mode:        mode,
		buffers: sync.Pool{New: func() any {
			buf := make([]byte, emulationChunk)
			return &buf
		}},
	}
}

// Open opens the next layer and wraps its handle.
func (f *Filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: next}, filter: f}, nil
}

type handle struct {
	server.PassThroughHandle
	filter *Filter
	// chunk is the most one read of an emulated cache request asks for: emulationChunk,
	// or less when the next layer's block size says so. Set by Prepare.
	chunk int64
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	h.chunk = emulationChunk
	if bs.Maximum != 0 && int64(bs.Maximum) < h.chunk {
		// The maximum is a multiple of the minimum, so chunks stay aligned.
		h.chunk = int64(bs.Maximum)
	}
	return nil
}

// Capabilities changes only what the client is told about cache requests.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return c, err
	}
	switch h.filter.mode {
	case None:
		c.Cache = server.CacheNone
	default:
		// The filter handles the requests itself, so to the server they are native.
		c.Cache = server.CacheNative
	}
	return c, nil
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	switch h.filter.mode {
	case Emulate:
		return h.readAndDiscard(ctx, off, length)
	case Nop:
		return nil
	}
	// The server refuses cache requests the export does not advertise; reaching here
	// means a layer above sent one anyway.
	return server.Errorf(syscall.EINVAL, "nocache: cache request with cachemode=none")
}

// readAndDiscard reads [off, off+length) from the next layer in chunks and drops the
// data, which is what a cache request is emulated by.
func (h *handle) readAndDiscard(ctx context.Context, off, length int64) error {
	bufp := h.filter.buffers.Get().(*[]byte)
	defer h.filter.buffers.Put(bufp)
	buf := *bufp
	for length > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(length, h.chunk, int64(len(buf)))
		if err := h.Next.ReadAt(ctx, buf[:n], off, 0); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}
