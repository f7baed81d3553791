package blocksize

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Options are the limits the filter keeps the plugin's requests within. A zero field
// takes its default, which depends on the plugin's own block size constraints.
type Options struct {
	// MinBlock is the size and alignment of the smallest request passed on: a power of
	// 2 up to 64 KiB. Default: the plugin's minimum block size, or 1.
	MinBlock uint32
	// MaxData is the largest read or write passed on, a multiple of MinBlock. Default:
	// 64 MiB or the plugin's maximum block size, whichever is smaller.
	MaxData uint32
	// MaxLen is the largest trim, zero, cache or extents request passed on, a
	// multiple of MinBlock. Default: 0xffffffff rounded down to MinBlock.
	MaxLen uint32
}

const (
	maxMinBlock    = 64 << 10
	defaultMaxData = 64 << 20
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=blocksize PLUGIN [minblock=SIZE] [maxdata=SIZE] [maxlen=SIZE]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "blocksize",
		Version:     moduleVersion(),
		Description: "keep the plugin's requests within block size limits",
		ConfigHelp: "minblock=<SIZE>  Smallest unit and alignment of requests to the plugin (power of 2, ≤ 64k).\n" +
			"maxdata=<SIZE>   Largest read or write passed to the plugin (a multiple of minblock).\n" +
			"maxlen=<SIZE>    Largest trim, zero, cache or extents request passed to the plugin.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			for _, param := range []struct {
				key string
				dst *uint32
			}{{"minblock", &opts.MinBlock}, {"maxdata", &opts.MaxData}, {"maxlen", &opts.MaxLen}} {
				n, err := p.Size(param.key, 0)
				if err != nil {
					return nil, err
				}
				if n > math.MaxUint32 {
					return nil, fmt.Errorf("%s=%d: must be less than 4G", param.key, n)
				}
				*param.dst = uint32(n)
			}
			return New(next, opts)
		},
	}
}

// New returns a layer that passes on to next only requests aligned to opts.MinBlock and
// no larger than opts.MaxData (with data) or opts.MaxLen (without): it reads, modifies
// and writes the unaligned ends of writes and zeroes, reads around unaligned reads,
// ignores the unaligned ends of trims, and splits large requests. Clients may send
// anything: the layer advertises a minimum block size of 1.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if m := opts.MinBlock; m != 0 && (m&(m-1) != 0 || m > maxMinBlock) {
		return nil, fmt.Errorf("minblock=%d: must be a power of 2 no larger than 64k", m)
	}
	if m := opts.MinBlock; m != 0 {
		if opts.MaxData%m != 0 {
			return nil, fmt.Errorf("maxdata=%d: must be a multiple of minblock (%d)", opts.MaxData, m)
		}
		if opts.MaxLen%m != 0 {
			return nil, fmt.Errorf("maxlen=%d: must be a multiple of minblock (%d)", opts.MaxLen, m)
		}
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
}

type filter struct {
	server.PassThrough
	opts Options
	// rmw serializes the read-modify-write cycles of every connection, so that two
	// requests touching different bytes of one block do not undo each other, and
	// guards bounce, the block they use.
	rmw    sync.Mutex
	bounce [maxMinBlock]byte
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}
