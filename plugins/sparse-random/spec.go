package sparserandom

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/sparse-random"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd sparse-random [size=]SIZE [seed=SEED] [percent=N] [runlength=N] [random-content=true]
//
// Like nbdkit, the plugin serves a disk of zero bytes when size= is not given, and
// seeds itself from the clock (the seconds since 1970) when seed= is not given.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "sparse-random",
		Version:        moduleVersion(),
		Description:    "a sparse disk of runs of random data; writes must match it",
		MagicConfigKey: "size",
		ConfigHelp: "size=<SIZE>          Size of the disk (default 0).\n" +
			"seed=<SEED>          Seed of the layout and data, 0 to 4294967295 (default: from the clock).\n" +
			"percent=<PERCENT>    Share of the disk that holds data, 0 to 100 (default 10).\n" +
			"runlength=<BYTES>    Mean length of a run of data (default 16M).\n" +
			"random-content=true  Make every byte of data random, not each block one byte.",
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
		p.Logger.Debug("seed chosen from the clock; give it as seed= to get the same disk again", "seed", opts.Seed)
	}
	if text, ok := p.Lookup("percent"); ok {
		percent, err := parsePercent(text)
		if err != nil {
			return opts, fmt.Errorf("percent=%s: %w", text, err)
		}
		opts.Percent = &percent
	}
	if opts.RunLength, err = p.Size("runlength", DefaultRunLength); err != nil {
		return opts, err
	}
	if opts.RunLength == 0 {
		return opts, errors.New("runlength=0: the mean length of a run of data must be more than 0")
	}
	if opts.RandomContent, err = p.Bool("random-content", false); err != nil {
		return opts, err
	}
	return opts, nil
}

// parsePercent parses a share of the disk, a decimal number from 0 to 100.
func parsePercent(text string) (float64, error) {
	percent, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", text)
	}
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return 0, errors.New("the share of data must be between 0 and 100")
	}
	return percent, nil
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
