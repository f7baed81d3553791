package qcow2dec

import "github.com/gonbd/gonbd/server"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=qcow2dec PLUGIN [plugin-args...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "qcow2dec",
		Version:     moduleVersion(),
		Description: "decode a qcow2 image into the raw disk it holds (read-only)",
		ConfigHelp:  "(the filter has no parameters)",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next, Options{Logger: p.Logger})
		},
	}
}
