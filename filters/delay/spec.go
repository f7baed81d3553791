package delay

import (
	"fmt"
	"strings"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=delay PLUGIN [rdelay=SECS|NNms] [wdelay=...] [delay-zero=...] ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "delay",
		Version:     moduleVersion(),
		Description: "inject read and write delays",
		ConfigHelp: "rdelay=<NN>[ms]                Read delay in seconds/milliseconds.\n" +
			"delay-read=<NN>[ms]            Read delay in seconds/milliseconds.\n" +
			"delay-write=<NN>[ms]           Write delay in seconds/milliseconds.\n" +
			"delay-zero=<NN>[ms]            Zero delay in seconds/milliseconds.\n" +
			"delay-trim=<NN>[ms]            Trim delay in seconds/milliseconds.\n" +
			"delay-extents=<NN>[ms]         Extents delay in seconds/milliseconds.\n" +
			"delay-cache=<NN>[ms]           Cache delay in seconds/milliseconds.\n" +
			"delay-flush=<NN>[ms]           Flush delay in seconds/milliseconds.\n" +
			"wdelay=<NN>[ms]                Write, zero and trim delay in secs/msecs.\n" +
			"zdelay, tdelay, edelay, cdelay, fdelay=<NN>[ms]\n" +
			"                               Zero, trim, extents, cache, flush delay.\n" +
			"delay-fast-zero=<BOOL>         Delay fast zero requests (default true).\n" +
			"delay-open=<NN>[ms]            Open delay in seconds/milliseconds.\n" +
			"delay-close=<NN>[ms]           Close delay in seconds/milliseconds.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts, err := parseParams(p)
			if err != nil {
				return nil, err
			}
			return New(next, opts), nil
		},
	}
}

// parseParams reads the filter's keys in command-line order, so that a later key
// overrides an earlier one that set the same delay (wdelay=1 delay-zero=0 delays
// writes and trims but not zeroes), as in nbdkit.
func parseParams(p *server.Params) (Options, error) {
	var opts Options
	for _, param := range p.List() {
		key := param.Key
		if key == "delay-fast-zero" {
			p.Lookup(key)
			v, err := server.ParseBool(param.Value)
			if err != nil {
				return opts, fmt.Errorf("%s=%s: %w", key, param.Value, err)
			}
			opts.FailFastZero = !v
			continue
		}
		targets := delayTargets(&opts, key)
		if targets == nil {
			continue // a key for the layers behind
		}
		p.Lookup(key)
		d, err := ParseDelay(param.Value)
		if err != nil {
			return opts, fmt.Errorf("%s=%s: %w", key, param.Value, err)
		}
		for _, t := range targets {
			*t = d
		}
	}
	return opts, nil
}

// delayTargets returns the delays key sets, or nil if key is not the filter's. The
// names are nbdkit's, with its aliases, plus short forms for the kinds nbdkit has no
// short form for.
func delayTargets(o *Options, key string) []*time.Duration {
	switch key {
	case "rdelay", "delay-read", "delay-reads":
		return []*time.Duration{&o.Read}
	case "wdelay":
		return []*time.Duration{&o.Write, &o.Zero, &o.Trim}
	case "delay-write", "delay-writes":
		return []*time.Duration{&o.Write}
	case "zdelay", "delay-zero", "delay-zeroes":
		return []*time.Duration{&o.Zero}
	case "tdelay", "delay-trim", "delay-trims", "delay-discard", "delay-discards":
		return []*time.Duration{&o.Trim}
	case "edelay", "delay-extent", "delay-extents":
		return []*time.Duration{&o.Extents}
	case "cdelay", "delay-cache":
		return []*time.Duration{&o.Cache}
	case "fdelay", "delay-flush":
		return []*time.Duration{&o.Flush}
	case "delay-open":
		return []*time.Duration{&o.Open}
	case "delay-close":
		return []*time.Duration{&o.Close}
	}
	return nil
}

// ParseDelay parses a delay as nbdkit's delay filter does: a whole number of seconds
// (decimal, 0x hexadecimal or 0 octal, as C's strtoul reads it) or a whole number of
// milliseconds followed by "ms".
func ParseDelay(s string) (time.Duration, error) {
	unit, number := time.Second, s
	if n, ok := strings.CutSuffix(s, "ms"); ok {
		unit, number = time.Millisecond, n
	}
	n, err := server.ParseUint(number, 32)
	if err != nil {
		return 0, fmt.Errorf("not a delay in seconds or NNms: %w", err)
	}
	return time.Duration(n) * unit, nil
}
