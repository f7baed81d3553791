package xz

import (
	"fmt"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/xz"

// Spec describes the filter to the gonbd command line, with nbdkit's parameters:
//
//	gonbd --filter=xz PLUGIN ... [xz-max-block=SIZE] [xz-max-depth=N]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "xz",
		Version:     moduleVersion(),
		Description: "decompress an xz-compressed file, with random access by block",
		ConfigHelp: "xz-max-block=<SIZE>  Largest block accepted (default 512M).\n" +
			"xz-max-depth=<N>     Decompressed blocks kept in the cache (default 8).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(next, opts, p.Logger)
		},
	}
}

// optionsFromParams reads the filter's parameters.
func optionsFromParams(p *server.Params) (Options, error) {
	var opts Options
	var err error
	if opts.MaxBlock, err = p.Size("xz-max-block", DefaultMaxBlock); err != nil {
		return opts, err
	}
	if opts.MaxBlock == 0 {
		return opts, fmt.Errorf("xz-max-block=0: the largest block must be at least 1 byte")
	}
	depth, err := p.Uint32("xz-max-depth", DefaultMaxDepth)
	if err != nil {
		return opts, err
	}
	if depth < 1 || depth > 1<<20 {
		return opts, fmt.Errorf("xz-max-depth=%d: it must be from 1 to %d", depth, 1<<20)
	}
	opts.MaxDepth = int(depth)
	return opts, nil
}

// moduleVersion returns the version of this module the running program was built with,
// or "devel" for a build from a work tree.
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	version := info.Main.Version
	if info.Main.Path != modulePath {
		version = ""
		for _, dep := range info.Deps {
			if dep.Path == modulePath {
				version = dep.Version
			}
		}
	}
	if version == "" || version == "(devel)" {
		return "devel"
	}
	return version
}
