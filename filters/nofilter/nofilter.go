package nofilter

import "github.com/gonbd/gonbd/server"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=nofilter PLUGIN [PLUGIN-ARGS...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "nofilter",
		Version:     moduleVersion(),
		Description: "passthrough filter",
		ConfigHelp:  "(this filter has no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next), nil
		},
	}
}

// New returns a layer that passes every call to next unchanged.
func New(next server.Layer) server.Layer {
	return filter{server.PassThrough{Next: next}}
}

// filter is PassThrough under a type of its own, so that it shows up as a layer of its
// own in a stack.
type filter struct{ server.PassThrough }
