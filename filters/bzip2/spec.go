package bzip2

import (
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=bzip2 PLUGIN [bzip2-max-depth=N] [plugin-args...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "bzip2",
		Version:     moduleVersion(),
		Description: "decompress a bzip2 file (read-only), with random access by block",
		ConfigHelp:  "bzip2-max-depth=<N>  Decompressed blocks kept in the cache (default 16).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			depth, err := p.Uint32("bzip2-max-depth", DefaultMaxDepth)
			if err != nil {
				return nil, err
			}
			if depth < 1 || depth > 1<<16 {
				return nil, fmt.Errorf("bzip2-max-depth=%d: the cache holds from 1 to 65536 blocks", depth)
			}
			return New(next, Options{MaxDepth: int(depth), Logger: p.Logger})
		},
	}
}
