package readahead

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/readahead"

// Spec describes the filter to the gonbd command line. It has no parameters of its own:
//
//	gonbd --filter=readahead PLUGIN ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "readahead",
		Version:     moduleVersion(),
		Description: "read ahead of sequential reads",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next), nil
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
