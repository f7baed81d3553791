package random

import (
	"runtime/debug"
	"time"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/random"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd random [size=]SIZE [seed=SEED]
//
// Like nbdkit, the plugin serves a disk of zero bytes when size= is not given, and
// seeds itself from the clock (the seconds since 1970) when seed= is not given.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "random",
		Version:        moduleVersion(),
		Description:    "a disk of reproducible random data; writes must match it",
		MagicConfigKey: "size",
		ConfigHelp: "size=<SIZE>  Size of the disk (default 0).\n" +
			"seed=<SEED>  Seed of the data, 0 to 4294967295 (default: from the clock).",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p, time.Now())
			if err != nil {
				return nil, err
			}
			return New(opts)
		},
	}
}

// optionsFromParams reads the plugin's parameters, with nbdkit's syntax; the seed
// defaults to now's seconds since 1970, cut to 32 bits.
func optionsFromParams(p *server.Params, now time.Time) (Options, error) {
	var opts Options
	var err error
	if opts.Size, err = p.Size("size", 0); err != nil {
		return opts, err
	}
	if opts.Seed, err = p.Uint32("seed", uint32(now.Unix())); err != nil {
		return opts, err
	}
	if _, given := p.Lookup("seed"); !given {
		p.Logger.Debug("seed chosen from the clock; give it as seed= to get the same data again", "seed", opts.Seed)
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
