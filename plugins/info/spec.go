package info

import (
	"fmt"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/info"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd info [mode=]exportname|base64exportname|address|time|uptime|conntime
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "info",
		Version:        moduleVersion(),
		Description:    "serves information about the client and the server",
		MagicConfigKey: "mode",
		ConfigHelp: "mode=exportname|base64exportname|address|time|uptime|conntime\n" +
			"             What the disk holds (default exportname).",
		New: func(p *server.Params) (server.Plugin, error) {
			mode := Mode(p.String("mode", string(ModeExportName)))
			if !mode.valid() {
				return nil, fmt.Errorf("mode=%s: unknown mode (the modes are %s)", mode, modeNames)
			}
			return New(Options{Mode: mode})
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
