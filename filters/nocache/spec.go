package nocache

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/nocache"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=nocache PLUGIN [cachemode=none|emulate|nop] ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "nocache",
		Version:     moduleVersion(),
		Description: "disable or emulate cache (prefetch) requests",
		ConfigHelp: "cachemode=none|emulate|nop  What to do with NBD_CMD_CACHE: refuse it (default),\n" +
			"                             emulate it by reading, or accept and ignore it.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			mode, err := ParseMode(p.String("cachemode", "none"))
			if err != nil {
				return nil, err
			}
			return New(next, mode), nil
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
