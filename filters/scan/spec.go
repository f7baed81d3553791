package scan

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/scan"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=scan PLUGIN [scan-ahead=BOOL] [scan-clock=BOOL] [scan-forever=BOOL] [scan-size=SIZE] ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "scan",
		Version:     moduleVersion(),
		Description: "prefetch the whole disk in the background while clients are connected",
		ConfigHelp: "scan-ahead=true|false    Skip ahead of the client's reads (default true).\n" +
			"scan-clock=true|false    Resume where the scan stopped when clients come back (default true).\n" +
			"scan-forever=true|false  Start over once the whole disk was scanned (default false).\n" +
			"scan-size=<SIZE>         Size of each prefetch request, a power of 2 (default 2M).",
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
