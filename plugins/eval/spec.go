package eval

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/eval"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd eval get_size='echo 64M' pread='dd if=/dev/zero count=$3 iflag=count_bytes' [...]
//
// Parameters named after a method (see [Methods]), and missing=, give method bodies;
// every other parameter goes to the config method, and is refused without one.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:        "eval",
		Version:     moduleVersion(),
		Description: "plugin written as shell script snippets on the command line",
		ConfigHelp:  configHelp(),
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(opts)
		},
	}
}

// configHelp lists the parameters, one method a line.
func configHelp() string {
	var b strings.Builder
	for _, m := range methods {
		fmt.Fprintf(&b, "%s=<SCRIPT>\n", m)
	}
	b.WriteString("missing=<SCRIPT>  Run for every method not given (default: exit 2, \"missing\").\n")
	b.WriteString("[KEY=VALUE ...]  Passed to the config method.")
	return b.String()
}

// optionsFromParams sorts the parameters into method bodies and the config method's
// parameters, keeping the latter in order. A method given twice is an error, as in
// nbdkit.
func optionsFromParams(p *server.Params) (Options, error) {
	opts := Options{Methods: map[string]string{}, Logger: p.Logger}
	missingGiven := false
	for _, param := range p.List() {
		p.All(param.Key) // every parameter is the plugin's
		switch {
		case param.Key == missingMethod:
			if missingGiven {
				return Options{}, fmt.Errorf("method %s defined more than once on the command line", param.Key)
			}
			opts.Missing, missingGiven = param.Value, true
		case slices.Contains(methods, param.Key):
			if _, dup := opts.Methods[param.Key]; dup {
				return Options{}, fmt.Errorf("method %s defined more than once on the command line", param.Key)
			}
			opts.Methods[param.Key] = param.Value
		default:
			opts.Config = append(opts.Config, param)
		}
	}
	if missingGiven && opts.Missing == "" {
		// An empty body succeeds at everything; say so rather than fall back to
		// the default.
		opts.Missing = ":"
	}
	return opts, nil
}

// moduleVersion returns the version of this module the running program was built
// with, or "devel" for a build from a work tree.
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
