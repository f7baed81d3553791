package retryrequest

import (
	"errors"
	"fmt"
	"time"

	"github.com/gonbd/gonbd/server"
)

// maxRetries bounds retry-request-retries, so that a typing error cannot make a
// request wait for days.
const maxRetries = 1000

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=retry-request PLUGIN [retry-request-retries=N]
//	      [retry-request-delay=N] [retry-request-open=false]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "retry-request",
		Version:     moduleVersion(),
		Description: "retry single requests on error",
		ConfigHelp: "retry-request-retries=<N> Number of retries (default: 2).\n" +
			"retry-request-delay=<N>   Seconds to wait before retry (default: 2).\n" +
			"retry-request-open=false  Do not retry opening the plugin (default: true).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Logger: p.Logger}
			retries, err := p.Uint32("retry-request-retries", DefaultRetries)
			if err != nil {
				return nil, err
			}
			if retries > maxRetries {
				return nil, fmt.Errorf("retry-request-retries=%d: value too large (at most %d)", retries, maxRetries)
			}
			opts.Retries = int(retries)
			if retries == 0 {
				opts.Retries = -1 // none, not the default
			}
			seconds, err := p.Uint32("retry-request-delay", uint32(DefaultDelay/time.Second))
			if err != nil {
				return nil, err
			}
			if seconds == 0 {
				return nil, errors.New("retry-request-delay=0: the delay cannot be 0")
			}
			opts.Delay = time.Duration(seconds) * time.Second
			retryOpen, err := p.Bool("retry-request-open", true)
			if err != nil {
				return nil, err
			}
			opts.NoRetryOpen = !retryOpen
			return New(next, opts), nil
		},
	}
}
