package full

import (
	"errors"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/full"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd full [size=]SIZE
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "full",
		Version:        moduleVersion(),
		Description:    "a disk that is always full: reads zeroes, writes fail with ENOSPC",
		MagicConfigKey: "size",
		ConfigHelp:     "size=<SIZE>  (required) Size of the disk.",
		New: func(p *server.Params) (server.Plugin, error) {
			if _, ok := p.Lookup("size"); !ok {
				return nil, errors.New("missing required parameter size: give the disk's size, e.g. size=1G")
			}
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
