package main

import (
	"context"
	"fmt"
	"log/slog"
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
	spec, err := l.plugin(operands[0])
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

// buildStack makes the layers: the filters in command-line order, the first closest to
// the client, then the plugin behind them.
//
// Parameters flow from the client side inwards, as in nbdkit: the first filter sees
// them all, takes the keys it knows, and leaves the rest to the next layer (see
// [server.Params]). A filter is therefore made before the layers behind it, with a
// stand-in for them that is filled in once they exist. Whatever the plugin leaves
// unused is an error naming it.
func buildStack(plugin server.PluginSpec, filters []server.FilterSpec, list []server.Param, logger *slog.Logger) (server.Layer, error) {
	params := server.NewParams(list, logger)
	var top server.Layer
	var behind *lateLayer // the stand-in the previous filter got
	for _, f := range filters {
		params = server.NewParams(params.Unused(), logger.With("filter", f.Name))
		late := &lateLayer{}
		layer, err := f.New(params, late)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if top == nil {
			top = layer
		} else {
			behind.Next = layer
		}
		behind = late
	}
	params = server.NewParams(params.Unused(), logger.With("plugin", plugin.Name))
	p, err := plugin.New(params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", plugin.Name, err)
	}
	if err := unknownParams(plugin.Name, params.Unused()); err != nil {
		cleanupPlugin(p)
		return nil, err
	}
	layer := server.PluginLayer(plugin.Name, p)
	if top == nil {
		return layer, nil
	}
	behind.Next = layer
	return top, nil
}

// unknownParams returns the error for parameters no layer used, or nil.
func unknownParams(plugin string, unused []server.Param) error {
	if len(unused) == 0 {
		return nil
	}
	keys := make([]string, len(unused))
	for i, p := range unused {
		keys[i] = p.Key
	}
	noun := "parameter"
	if len(keys) > 1 {
		noun = "parameters"
	}
	return fmt.Errorf("%s: unknown %s %s (gonbd %s --help lists them)", plugin, noun, strings.Join(keys, ", "), plugin)
}

// cleanupPlugin releases a plugin that will not serve.
func cleanupPlugin(p server.Plugin) {
	if c, ok := p.(server.Cleaner); ok {
		c.Cleanup(context.Background())
	}
}

// lateLayer stands for the layers behind a filter while the filter is made; buildStack
// sets Next once they exist, before anything calls the stack.
type lateLayer struct{ server.PassThrough }
