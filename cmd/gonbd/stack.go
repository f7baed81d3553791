package main

import (
	"fmt"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// pluginArgs splits the operands of a command line, the plugin's name then its
// parameters, into the plugin's spec and the parameters as key=value pairs.
//
// A parameter without a key (a bare value, or one whose text before '=' is not a
// key, like ./a=b) goes to the plugin's magic key, as in nbdkit: `gonbd memory 1G` is
// `gonbd memory size=1G`. That is also what makes shebang scripts work: the kernel
// runs `#!/usr/bin/env -S gonbd PLUGIN` scripts as `gonbd PLUGIN /path/to/script
// ARGS...`, so the script's path goes to the plugin's magic key.
func pluginArgs(l linked, operands []string) (server.PluginSpec, []server.Param, error) {
	if len(operands) == 0 {
		return server.PluginSpec{}, nil, errNoPlugin
	}
	spec, err := l.pluginOrC(operands[0])
	if err != nil {
		return spec, nil, err
	}
	params := make([]server.Param, 0, len(operands)-1)
	for _, arg := range operands[1:] {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || !isParamKey(key) {
			if spec.MagicConfigKey == "" {
				return spec, nil, fmt.Errorf("%s: expecting key=value on the command line but got %q (the plugin has no magic parameter)", spec.Name, arg)
			}
			key, value = spec.MagicConfigKey, arg
		}
		params = append(params, server.Param{Key: key, Value: value})
	}
	return spec, params, nil
}

// isParamKey reports whether s can be a parameter's key, with nbdkit's rule: a letter,
// then letters, digits, '.', '_' and '-'.
func isParamKey(s string) bool {
	for i, c := range s {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '.' || c == '_' || c == '-')) {
			return false
		}
	}
	return s != ""
}
