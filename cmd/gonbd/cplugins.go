package main

import (
	"github.com/gonbd/gonbd/plugins/cabi"
	"github.com/gonbd/gonbd/server"
)

// pluginOrC returns the plugin a command line's plugin operand names. As nbdkit
// does, an operand that is a path (it contains '/' or ends in ".so") is a C plugin
// to load; a name is a linked Go plugin, else nbdkit's C plugin of that name from
// nbdkit's plugin directory (so `gonbd python script.py` works when no Go plugin
// is called python). Loading a C plugin runs its load callback.
func (l linked) pluginOrC(operand string) (server.PluginSpec, error) {
	path := operand
	if !cabi.IsPath(operand) {
		spec, err := l.plugin(operand)
		if err == nil {
			return spec, nil
		}
		if path, err = cabi.Find(operand); err != nil {
			_, err = l.plugin(operand) // "unknown plugin", listing the linked ones
			return server.PluginSpec{}, err
		}
	}
	lib, err := cabi.Load(path, cabi.Options{StdioUnsafe: l.stdioInUse})
	if err != nil {
		return server.PluginSpec{}, err
	}
	return lib.Spec(), nil
}

// cPluginsSupported reports whether this build can load C plugins (it needs cgo).
func cPluginsSupported() bool { return cabi.Available }
