package split

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/split"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd split [file=]FILE1 [[file=]FILE2 ...]
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "split",
		Version:        moduleVersion(),
		Description:    "concatenates regular files into one disk",
		MagicConfigKey: "file",
		ConfigHelp:     "[file=]<FILENAME>  (required, repeatable) The files to concatenate, in order.",
		New: func(p *server.Params) (server.Plugin, error) {
			return New(Options{Files: p.All("file"), Logger: p.Logger})
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
