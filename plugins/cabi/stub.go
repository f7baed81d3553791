//go:build !cgo || !unix

package cabi

import (
	"errors"

	"github.com/gonbd/gonbd/server"
)

// Available reports whether this build can load C plugins: it needs cgo on a Unix
// system.
const Available = false

// ErrNoCgo is what loading fails with in a build without cgo.
var ErrNoCgo = errors.New("loading nbdkit's C plugins needs a gonbd built with cgo (CGO_ENABLED=1 and a C compiler) on a Unix system")

// A Library is a loaded C plugin. In this build none can be loaded.
type Library struct{}

// Load fails: this build has no cgo.
func Load(path string, opts Options) (*Library, error) {
	return nil, &LoadError{Path: path, Err: ErrNoCgo}
}

// Spec fails: this build has no cgo.
func (l *Library) Spec() server.PluginSpec { return server.PluginSpec{} }
