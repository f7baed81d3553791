package stats

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=stats PLUGIN statsfile=FILE [statsappend=true] [statsthreshold=PERCENTILE]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "stats",
		Version:     moduleVersion(),
		Description: "display statistics about operations",
		ConfigHelp: "statsfile=<FILE>    (required) The file to place the log in.\n" +
			"statsappend=<BOOL>  True to append to the log (default false).\n" +
			"statsthreshold=<PERCENTILE>  Histogram share of requests (default 95).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			path, ok := p.Lookup("statsfile")
			if !ok || path == "" {
				return nil, errors.New("the stats filter requires the statsfile parameter")
			}
			// Absolute, because the server may change directory when it daemonizes.
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, fmt.Errorf("statsfile=%s: %w", path, err)
			}
			opts := Options{File: abs, Logger: p.Logger}
			if opts.Append, err = p.Bool("statsappend", false); err != nil {
				return nil, err
			}
			percent, err := p.Int64("statsthreshold", 95)
			if err != nil {
				return nil, err
			}
			if percent < 0 || percent > 100 {
				return nil, fmt.Errorf("statsthreshold=%d: statsthreshold must be between 0 and 100 (percent)", percent)
			}
			opts.Threshold = float64(percent) / 100
			return New(next, opts), nil
		},
	}
}
