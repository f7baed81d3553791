package rate

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=rate PLUGIN [rate=BITSPERSEC] [connection-rate=BITSPERSEC]
//	      [rate-file=FILE] [connection-rate-file=FILE] [burstiness=SECS]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "rate",
		Version:     moduleVersion(),
		Description: "limit bandwidth by connection or server",
		ConfigHelp: "rate=BITSPERSEC                Limit total bandwidth.\n" +
			"connection-rate=BITSPERSEC     Limit per-connection bandwidth.\n" +
			"rate-file=FILENAME             Dynamically adjust total bandwidth.\n" +
			"connection-rate-file=FILENAME  Dynamically adjust per-connection bandwidth.\n" +
			"burstiness=SECS                Bucket capacity in seconds (default 2.0).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Logger: p.Logger}
			var err error
			if opts.Rate, err = rateParam(p, "rate"); err != nil {
				return nil, err
			}
			if opts.ConnectionRate, err = rateParam(p, "connection-rate"); err != nil {
				return nil, err
			}
			if opts.RateFile, err = fileParam(p, "rate-file"); err != nil {
				return nil, err
			}
			if opts.ConnectionRateFile, err = fileParam(p, "connection-rate-file"); err != nil {
				return nil, err
			}
			if s, ok := p.Lookup("burstiness"); ok {
				b, err := strconv.ParseFloat(s, 64)
				if err != nil || b <= 0 || math.IsInf(b, 0) || math.IsNaN(b) {
					return nil, fmt.Errorf("burstiness=%s: burstiness must be a positive floating point number (seconds)", s)
				}
				opts.Burstiness = b
			}
			return New(next, opts), nil
		},
	}
}

// rateParam parses a rate given once at most, in bits per second with nbdkit's size
// suffixes (1M is 1048576 bits per second).
func rateParam(p *server.Params, key string) (uint64, error) {
	values := p.All(key)
	switch len(values) {
	case 0:
		return 0, nil
	case 1:
	default:
		return 0, fmt.Errorf("%s set twice on the command line", key)
	}
	rate, err := server.ParseSize(values[0])
	if err != nil {
		return 0, fmt.Errorf("%s=%s: %w", key, values[0], err)
	}
	if rate == 0 {
		return 0, errors.New(key + "=0: the rate cannot be set to 0 (leave it out for no limit)")
	}
	return uint64(rate), nil
}

// fileParam returns the absolute path of a file parameter: the server may change
// directory when it daemonizes.
func fileParam(p *server.Params, key string) (string, error) {
	path, ok := p.Lookup(key)
	if !ok {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w", key, path, err)
	}
	return abs, nil
}
