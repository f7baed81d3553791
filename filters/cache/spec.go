package cache

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/cache"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=cache PLUGIN [cache=writeback|writethrough|unsafe] [cache-max-size=SIZE] ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "cache",
		Version:     moduleVersion(),
		Description: "cache the plugin's data in a local temporary file",
		ConfigHelp: "cache=writeback|writethrough|unsafe  When writes reach the plugin (default writeback).\n" +
			"cache-min-block-size=<SIZE>  Smallest block size of the cache, a power of 2 ≥ 4096 (default 64K).\n" +
			"cache-max-size=<SIZE>        Limit the cache's size, reclaiming least recently used blocks.\n" +
			"cache-high-threshold=<N>     Start reclaiming above N% of cache-max-size (default 95).\n" +
			"cache-low-threshold=<N>      Stop reclaiming below N% of cache-max-size (default 80).\n" +
			"cache-on-read=true|false|/PATH  Keep the blocks read in the cache; with /PATH, while it exists.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(next, opts, p.Logger)
		},
	}
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
