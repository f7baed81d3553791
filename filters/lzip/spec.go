package lzip

import (
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=lzip PLUGIN [lzip-max-block=SIZE] [lzip-max-depth=N] [plugin-args...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "lzip",
		Version:     moduleVersion(),
		Description: "decompress an lzip file (read-only), with random access by member",
		ConfigHelp: "lzip-max-block=<SIZE>  Largest member accepted, decompressed (default 512M).\n" +
			"lzip-max-depth=<N>     Decompressed members kept in the cache (default 8).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Logger: p.Logger}
			var err error
			if opts.MaxBlock, err = p.Size("lzip-max-block", DefaultMaxBlock); err != nil {
				return nil, err
			}
			if opts.MaxBlock < 1 {
				return nil, fmt.Errorf("lzip-max-block=%d: the limit must be at least 1 byte", opts.MaxBlock)
			}
			depth, err := p.Uint32("lzip-max-depth", DefaultMaxDepth)
			if err != nil {
				return nil, err
			}
			if depth < 1 || depth > 1<<16 {
				return nil, fmt.Errorf("lzip-max-depth=%d: the cache holds from 1 to 65536 members", depth)
			}
			opts.MaxDepth = int(depth)
			return New(next, opts)
		},
	}
}
