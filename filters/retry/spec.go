package retry

import (
	"errors"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=retry PLUGIN [retries=N] [retry-delay=N]
//	      [retry-exponential=yes|no] [retry-readonly=yes|no]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "retry",
		Version:     moduleVersion(),
		Description: "reopen the plugin and retry requests on error",
		ConfigHelp: "retries=<N>              Number of retries (default: 5).\n" +
			"retry-delay=<N>          Seconds to wait before retry (default: 2).\n" +
			"retry-exponential=yes|no Exponential back-off (default: yes).\n" +
			"retry-readonly=yes|no    Force read-only on failure (default: no).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Logger: p.Logger}
			retries, err := p.Uint32("retries", DefaultRetries)
			if err != nil {
				return nil, err
			}
			opts.Retries = int(min(retries, 1<<20))
			if retries == 0 {
				opts.Retries = -1 // none, not the default
			}
			seconds, err := p.Uint32("retry-delay", uint32(DefaultDelay/time.Second))
			if err != nil {
				return nil, err
			}
			if seconds == 0 {
				return nil, errors.New("retry-delay=0: the delay cannot be 0")
			}
			opts.Delay = time.Duration(seconds) * time.Second
			exponential, err := p.Bool("retry-exponential", true)
			if err != nil {
				return nil, err
			}
			opts.ConstantDelay = !exponential
			if opts.ReadOnly, err = p.Bool("retry-readonly", false); err != nil {
				return nil, err
			}
			return New(next, opts), nil
		},
	}
}
