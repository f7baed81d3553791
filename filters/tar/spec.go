package tar

import (
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=tar PLUGIN tar-entry=NAME [tar-limit=SIZE] [plugin-args...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "tar",
		Version:     moduleVersion(),
		Description: "serve one file inside a tar archive, read and written in place",
		ConfigHelp: "tar-entry=<FILENAME>  (required) The path inside the tar file to serve.\n" +
			"tar-limit=<SIZE>      Search at most SIZE bytes of the archive for the entry (default 0: no limit).\n" +
			"tar=<PATH>            Accepted for compatibility with nbdkit and ignored: no tar program is run.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			entry, err := p.Required("tar-entry")
			if err != nil {
				return nil, fmt.Errorf("%w: give the member to serve as `tar tf` lists it, e.g. tar-entry=disk.img", err)
			}
			limit, err := p.Size("tar-limit", 0)
			if err != nil {
				return nil, err
			}
			if program, ok := p.Lookup("tar"); ok {
				p.Logger.Debug("tar= is ignored: gonbd reads tar headers itself", "tar", program)
			}
			return New(next, Options{Entry: entry, Limit: limit, Logger: p.Logger})
		},
	}
}
