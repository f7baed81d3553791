package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// NewStack makes the layers of a server from specs and parameters, as the gonbd command
// does: the filters in command-line order, the first closest to the client, then the
// plugin behind them.
//
// Parameters flow from the client side inwards, as in nbdkit: the first filter sees
// them all, takes the keys it knows, and leaves the rest to the next layer (see
// [Params]). A filter is therefore made before the layers behind it, with a
// stand-in for them that is filled in once they exist. Whatever the plugin leaves
// unused is an error naming it.
func NewStack(plugin PluginSpec, filters []FilterSpec, list []Param, logger *slog.Logger) (Layer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	params := NewParams(list, logger)
	var top Layer
	var behind *lateLayer // the stand-in the previous filter got
	for _, f := range filters {
		params = NewParams(params.Unused(), logger.With("filter", f.Name))
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
	params = NewParams(params.Unused(), logger.With("plugin", plugin.Name))
	p, err := plugin.New(params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", plugin.Name, err)
	}
	if err := unknownParams(plugin.Name, params.Unused()); err != nil {
		cleanupPlugin(p)
		return nil, err
	}
	layer := PluginLayer(plugin.Name, p)
	if top == nil {
		return layer, nil
	}
	behind.Next = layer
	return top, nil
}

// unknownParams returns the error for parameters no layer used, or nil.
func unknownParams(plugin string, unused []Param) error {
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
func cleanupPlugin(p Plugin) {
	if c, ok := p.(Cleaner); ok {
		c.Cleanup(context.Background())
	}
}

// lateLayer stands for the layers behind a filter while the filter is made; buildStack
// sets Next once they exist, before anything calls the stack.
type lateLayer struct{ PassThrough }
