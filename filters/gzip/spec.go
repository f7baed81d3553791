package gzip

import (
	"fmt"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/gzip"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=gzip PLUGIN ... [gzip-span=SIZE] [gzip-cache=SIZE]
//
// nbdkit's gzip filter has no parameters; gzip-span and gzip-cache are gonbd's.
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "gzip",
		Version:     moduleVersion(),
		Description: "decompress a gzip-compressed file, with random access",
		ConfigHelp: "gzip-span=<SIZE>   Uncompressed distance between restart points (default 4M).\n" +
			"gzip-cache=<SIZE>  Decompressed data kept for later reads (default 64M).",
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
	if opts.SpanSize, err = p.Size("gzip-span", 0); err != nil {
		return opts, err
	}
	if v, ok := p.Lookup("gzip-span"); ok && opts.SpanSize == 0 {
		return opts, fmt.Errorf("gzip-span=%s: the span size must be from 64K to 1G", v)
	}
	if opts.CacheSize, err = p.Size("gzip-cache", 0); err != nil {
		return opts, err
	}
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
