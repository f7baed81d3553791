package pattern

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/pattern"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd pattern [size=]SIZE
//
// Like nbdkit, the plugin serves a disk of zero bytes when size= is not given.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "pattern",
		Version:        moduleVersion(),
		Description:    "a read-only disk of a fixed pattern: each 8-byte word holds its offset",
		MagicConfigKey: "size",
		ConfigHelp:     "size=<SIZE>  Size of the disk (default 0).",
		New: func(p *server.Params) (server.Plugin, error) {
			size, err := p.Size("size", 0)
			if err != nil {
				return nil, err
			}
			return New(Options{Size: size})
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
