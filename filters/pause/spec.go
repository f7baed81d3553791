package pause

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gonbd/gonbd/server"
)

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=pause PLUGIN pause-control=SOCKET
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "pause",
		Version:     moduleVersion(),
		Description: "pause NBD requests",
		ConfigHelp:  "pause-control=SOCKET           Control socket.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			path, ok := p.Lookup("pause-control")
			if !ok || path == "" {
				return nil, errors.New("pause-control socket was not set (pause-control=SOCKET is required)")
			}
			// Absolute, because the server may change directory when it daemonizes.
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, fmt.Errorf("pause-control=%s: %w", path, err)
			}
			if len(abs) > maxSocketPath {
				return nil, fmt.Errorf("pause-control=%s: socket path too long: length %d > max %d bytes", path, len(abs), maxSocketPath)
			}
			return New(next, Options{Control: abs}), nil
		},
	}
}
