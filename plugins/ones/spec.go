package ones

import (
	"fmt"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/ones"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd ones [[size=]SIZE] [byte=N]
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "ones",
		Version:        moduleVersion(),
		Description:    "a disk of ones (every byte 0xff, or byte=N): discards writes",
		MagicConfigKey: "size",
		ConfigHelp: "size=<SIZE>  Size of the disk (default 0).\n" +
			"byte=<N>     The value of every byte, 0 to 255 (default 0xff).",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(opts)
		},
	}
}

// optionsFromParams reads the plugin's parameters, with nbdkit's syntax: byte= is an
// integer in C's notation (255, 0xff, 0377).
func optionsFromParams(p *server.Params) (Options, error) {
	var opts Options
	var err error
	if opts.Size, err = p.Size("size", 0); err != nil {
		return opts, err
	}
	if text, ok := p.Lookup("byte"); ok {
		b, err := server.ParseUint(text, 8)
		if err != nil {
			return opts, fmt.Errorf("byte=%s: %w (a byte is 0 to 255)", text, err)
		}
		opts.Byte = new(byte)
		*opts.Byte = byte(b)
	}
	return opts, nil
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
