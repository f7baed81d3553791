package cow

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/cow"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=cow PLUGIN [cow-block-size=SIZE] [cow-on-cache=BOOL] [cow-on-read=BOOL|/PATH] ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "cow",
		Version:     moduleVersion(),
		Description: "copy-on-write overlay: writable, changes thrown away at exit",
		ConfigHelp: "cow-block-size=<SIZE>      Block size of the overlay, a power of 2 ≥ 4096 (default 64K).\n" +
			"cow-on-cache=true|false    Copy the blocks of cache requests into the overlay (default false).\n" +
			"cow-on-read=true|false|/PATH  Copy the blocks read into the overlay; with /PATH, while it exists.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(next, opts)
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
