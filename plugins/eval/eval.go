package eval

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/gonbd/gonbd/plugins/sh"
	"github.com/gonbd/gonbd/server"
)

// Methods returns the methods an eval plugin may be given a body for, in alphabetical
// order. Every other parameter goes to the config method.
//
// load and magic_config_key are not among them: the eval plugin has neither (a
// parameter called load= goes to config like any other).
func Methods() []string { return slices.Clone(methods) }

var methods = []string{
	"after_fork", "block_size", "cache", "can_cache", "can_extents", "can_fast_zero",
	"can_flush", "can_fua", "can_multi_conn", "can_trim", "can_write", "can_zero",
	"close", "config", "config_complete", "default_export", "dump_plugin",
	"export_description", "extents", "flush", "get_ready", "get_size", "is_rotational",
	"list_exports", "open", "pread", "preconnect", "pwrite", "thread_model", "trim",
	"unload", "zero",
}

// missingMethod is the parameter, and the script, that stands for every method not
// given.
const missingMethod = "missing"

// defaultMissing is the body of the missing script when none is given.
const defaultMissing = "exit 2"

// impliedAnswers are the can_* bodies the plugin supplies when the matching method
// is given without one, so that, unlike sh plugins, eval plugins work as plugins in
// other languages do: giving pwrite makes the export writable.
var impliedAnswers = []struct{ method, can, body string }{
	{"pwrite", "can_write", "exit 0"},
	{"flush", "can_flush", "exit 0"},
	{"trim", "can_trim", "exit 0"},
	{"zero", "can_zero", "exit 0"},
	{"extents", "can_extents", "exit 0"},
	{"cache", "can_cache", "echo native"},
}

// Options configure an eval plugin. The zero value of every field is its default.
type Options struct {
	// Methods maps method names (see [Methods]) to their bodies: shell script run
	// by /bin/sh with the arguments of nbdkit's sh plugin calling convention ($1 is
	// the method, $2... its arguments). Methods not given behave as Missing does.
	Methods map[string]string
	// Missing is the body run for every method not in Methods. Empty means the
	// default, "exit 2": the method is missing.
	Missing string
	// Config holds the other parameters, passed to the config method as `config KEY
	// VALUE`, in order.
	Config []server.Param
	// Logger receives the plugin's log; nil discards it.
	Logger *slog.Logger
}

// New writes each body into a script in a new $tmpdir and loads them as an sh plugin
// (see [sh.New]): the returned plugin calls config for each parameter, then
// config_complete and thread_model, and must be cleaned up, which calls unload and
// removes $tmpdir.
func New(opts Options) (*sh.Plugin, error) {
	for method := range opts.Methods {
		if !slices.Contains(methods, method) {
			return nil, fmt.Errorf("%q is not a method an eval plugin can define", method)
		}
	}
	dir, err := os.MkdirTemp("", "gonbd-eval-")
	if err != nil {
		return nil, fmt.Errorf("making $tmpdir: %w", err)
	}
	scripts, err := writeScripts(dir, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return sh.New(sh.Options{
		ScriptFor: func(method string) string {
			if path, ok := scripts[method]; ok {
				return path
			}
			if method == "load" || method == "magic_config_key" {
				return "" // not eval methods: missing, and the missing script is not run
			}
			return scripts[missingMethod]
		},
		Config: opts.Config,
		TmpDir: dir,
		Logger: opts.Logger,
	})
}

// writeScripts writes the script of each method, those implied, and the missing
// script into dir, and returns their paths by method.
func writeScripts(dir string, opts Options) (map[string]string, error) {
	bodies := make(map[string]string, len(opts.Methods)+len(impliedAnswers)+1)
	for method, body := range opts.Methods {
		bodies[method] = body
	}
	for _, implied := range impliedAnswers {
		_, given := bodies[implied.method]
		if _, answered := bodies[implied.can]; given && !answered {
			bodies[implied.can] = implied.body
		}
	}
	bodies[missingMethod] = opts.Missing
	if opts.Missing == "" {
		bodies[missingMethod] = defaultMissing
	}

	scripts := make(map[string]string, len(bodies))
	for method, body := range bodies {
		path := filepath.Join(dir, method)
		// The script is named after its method so that messages about it name the
		// method too. /bin/sh runs it whatever its body starts with.
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
			return nil, fmt.Errorf("writing the %s script: %w", method, err)
		}
		scripts[method] = path
	}
	return scripts, nil
}
