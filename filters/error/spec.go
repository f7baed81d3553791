package errorfilter

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=error PLUGIN [error=EIO] [error-rate=10%] [error-file=PATH]
//	                            [error-pread=...] [error-pread-rate=...] ...
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "error",
		Version:     moduleVersion(),
		Description: "inject errors into requests",
		ConfigHelp: "error=EPERM|EIO|ENOMEM|EINVAL|ENOSPC|ESHUTDOWN\n" +
			"                               The error indication to return.\n" +
			"error-rate=0%..100%|0..1       Rate of errors to generate.\n" +
			"error-file=TRIGGER             Set trigger filename.\n" +
			"error-pread*, error-pwrite*, error-trim*, error-zero*, error-extents*,\n" +
			"error-cache*                   Apply settings only to read/write/etc",
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
// overrides what an earlier one set, as in nbdkit: error-rate=100% error-pread-rate=0
// fails everything but reads.
func parseParams(p *server.Params) (Options, error) {
	var opts Options
	type target struct {
		rules   []*Rule
		setting string // "", "-rate" or "-file"
	}
	keys := map[string]target{}
	add := func(prefix string, rules ...*Rule) {
		for _, setting := range []string{"", "-rate", "-file"} {
			keys[prefix+setting] = target{rules, setting}
		}
	}
	add("error", &opts.Read, &opts.Write, &opts.Trim, &opts.Zero, &opts.Extents, &opts.Cache)
	add("error-pread", &opts.Read)
	add("error-pwrite", &opts.Write)
	add("error-trim", &opts.Trim)
	add("error-zero", &opts.Zero)
	add("error-extents", &opts.Extents)
	add("error-cache", &opts.Cache)

	for _, param := range p.List() {
		t, ok := keys[param.Key]
		if !ok {
			continue // a key for the layers behind
		}
		p.Lookup(param.Key)
		var set func(*Rule)
		switch t.setting {
		case "":
			errno, err := ParseErrno(param.Value)
			if err != nil {
				return opts, fmt.Errorf("%s=%s: %w", param.Key, param.Value, err)
			}
			set = func(r *Rule) { r.Errno = errno }
		case "-rate":
			rate, err := ParseRate(param.Value)
			if err != nil {
				return opts, fmt.Errorf("%s=%s: %w", param.Key, param.Value, err)
			}
			set = func(r *Rule) { r.Rate = rate }
		case "-file":
			// Absolute, because the server may change directory when it daemonizes.
			path, err := filepath.Abs(param.Value)
			if err != nil {
				return opts, fmt.Errorf("%s=%s: %w", param.Key, param.Value, err)
			}
			set = func(r *Rule) { r.File = path }
		}
		for _, r := range t.rules {
			set(r)
		}
	}
	return opts, nil
}

// errnos are the errors the filter can inject: those NBD can carry that nbdkit's
// error filter accepts.
var errnos = []syscall.Errno{syscall.EPERM, syscall.EIO, syscall.ENOMEM, syscall.EINVAL, syscall.ENOSPC, syscall.ESHUTDOWN}

// errnoName returns the C name of one of errnos.
func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.EIO:
		return "EIO"
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.ESHUTDOWN:
		return "ESHUTDOWN"
	}
	return "errno " + strconv.Itoa(int(e))
}

// ParseErrno parses the name of an error the filter can inject: EPERM, EIO, ENOMEM,
// EINVAL, ENOSPC or ESHUTDOWN.
func ParseErrno(s string) (syscall.Errno, error) {
	for _, e := range errnos {
		if s == errnoName(e) {
			return e, nil
		}
	}
	return 0, fmt.Errorf("unknown error name %q (expected EPERM, EIO, ENOMEM, EINVAL, ENOSPC or ESHUTDOWN)", s)
}

// ParseRate parses a rate as a percentage ("10%", "0.5%") or a probability ("0.1"),
// and returns the probability, from 0 to 1.
func ParseRate(s string) (float64, error) {
	number, percent := strings.CutSuffix(s, "%")
	rate, err := strconv.ParseFloat(number, 64)
	if err != nil || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return 0, fmt.Errorf("could not parse rate %q (expected a percentage such as 10%% or a probability from 0 to 1)", s)
	}
	if percent {
		rate /= 100
	}
	if rate < 0 || rate > 1 {
		return 0, fmt.Errorf("rate out of range: %q parsed as %g (expected 0%%..100%% or 0..1)", s, rate)
	}
	return rate, nil
}
