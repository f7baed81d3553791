package zero

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/zero"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd zero
//
// The plugin takes no parameters, and refuses any, as nbdkit's does.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:        "zero",
		Version:     moduleVersion(),
		Description: "an empty disk: zero bytes, read-only",
		ConfigHelp:  "(no parameters)",
		New: func(p *server.Params) (server.Plugin, error) {
			if params := p.List(); len(params) > 0 {
				return nil, fmt.Errorf("this plugin takes no parameters, but was given %s", listParams(params))
			}
			return New(), nil
		},
	}
}

// listParams formats parameters as the user typed them: "a=1, b=2".
func listParams(params []server.Param) string {
	texts := make([]string, len(params))
	for i, p := range params {
		texts[i] = p.Key + "=" + p.Value
	}
	return strings.Join(texts, ", ")
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
