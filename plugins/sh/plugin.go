package sh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Options configure a script plugin. Script (or ScriptFor) is required; the zero value
// of every other field is its default.
type Options struct {
	// Script is the program run for every method, as `Script METHOD ARGS...`: a
	// script with a "#!" line, a script without one (run by /bin/sh), or any
	// executable.
	Script string
	// ScriptFor, when set, returns the program that implements a method, in place of
	// Script; each program is still called as `PROGRAM METHOD ARGS...`. An empty
	// answer means the method is missing, as if a program had exited with code 2,
	// without running anything. The eval plugin gives each method its own script this
	// way.
	ScriptFor func(method string) string
	// Config holds the parameters passed to the script's config method in order, as
	// `config KEY VALUE`. An empty key stands for a bare value from the command
	// line: it goes to the key the script's magic_config_key method names, and is
	// refused when the script has none.
	Config []server.Param
	// TmpDir is the directory scripts get as $tmpdir. Empty means a new one in
	// os.TempDir. New takes the directory over either way: the plugin removes it,
	// with everything in it, in Cleanup, or when New fails.
	TmpDir string
	// Logger receives the plugin's log; nil discards it.
	Logger *slog.Logger
}

// Plugin is a plugin whose methods are programs, called once per method call with
// nbdkit's calling convention. It is safe for concurrent use.
type Plugin struct {
	scriptFor   func(method string) string
	tmpdir      string
	env         []string // the scripts' environment: ours, with $tmpdir
	log         *slog.Logger
	threadModel server.ThreadModel
	cleanup     sync.Once
}

// New loads and configures the script: it calls load, magic_config_key, config for
// each parameter, config_complete and thread_model, in that order. The returned
// plugin must be cleaned up (Cleanup), which calls unload and removes $tmpdir.
func New(opts Options) (*Plugin, error) {
	p := &Plugin{scriptFor: opts.ScriptFor, tmpdir: opts.TmpDir, log: opts.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.scriptFor == nil {
		if opts.Script == "" {
			p.removeTmpDir()
			return nil, errors.New("no script given")
		}
		script := opts.Script
		p.scriptFor = func(string) string { return script }
	}
	if p.tmpdir == "" {
		dir, err := os.MkdirTemp("", "gonbd-sh-")
		if err != nil {
			return nil, fmt.Errorf("making $tmpdir: %w", err)
		}
		p.tmpdir = dir
	}
	p.env = append(withoutVar(os.Environ(), "tmpdir"), "tmpdir="+p.tmpdir)

	ctx := context.Background()
	if err := p.simpleMethod(ctx, "load"); err != nil {
		p.removeTmpDir()
		return nil, err
	}
	if err := p.configure(ctx, opts.Config); err != nil {
		p.Cleanup(ctx)
		return nil, err
	}
	return p, nil
}

// configure runs the methods between load and serving: magic_config_key, config,
// config_complete and thread_model.
func (p *Plugin) configure(ctx context.Context, config []server.Param) error {
	magicKey, found, err := p.text(ctx, "magic_config_key")
	if err != nil {
		return err
	}
	magicKey = chomp(magicKey)
	if !found {
		magicKey = ""
	}
	for _, param := range config {
		key := param.Key
		if key == "" {
			if magicKey == "" {
				return p.errorf("config", "expected key=value on the command line, but got %q (the script has no magic_config_key)", param.Value)
			}
			key = magicKey
		}
		st, err := p.call(ctx, invocation{method: "config", args: []string{key, param.Value}})
		switch {
		case err != nil:
			return err
		case st == statusMissing:
			return p.errorf("config", "there is no config method to take the parameter %s=%s", key, param.Value)
		case st == statusFalse:
			return p.unexpectedFalse("config")
		}
	}
	if err := p.simpleMethod(ctx, "config_complete"); err != nil {
		return err
	}

	p.threadModel = server.SerializeAllRequests
	answer, found, err := p.text(ctx, "thread_model")
	if err != nil || !found {
		return err
	}
	model, ok := parseThreadModel(answer)
	if !ok {
		// nbdkit documents that it ignores an answer it does not know, which lets
		// scripts name models of later versions.
		p.log.Warn("ignoring an unknown thread model; using serialize_all_requests", "answer", chomp(answer))
	}
	p.threadModel = model
	return nil
}

// ThreadModel returns the script's thread model (its thread_model method), by default
// serialize_all_requests: two calls never run at once unless the script says they
// may.
func (p *Plugin) ThreadModel() server.ThreadModel { return p.threadModel }

// GetReady calls the get_ready method, then after_fork: gonbd does not fork, so the
// server is as ready as it will be once it gets ready.
func (p *Plugin) GetReady(ctx context.Context) error {
	if err := p.simpleMethod(ctx, "get_ready"); err != nil {
		return err
	}
	return p.simpleMethod(ctx, "after_fork")
}

// Preconnect calls the preconnect method; an error drops the connection. Its readonly
// argument is always false: the server does not tell plugins about -r until a
// connection lists or opens exports.
func (p *Plugin) Preconnect(ctx context.Context, info server.ConnInfo) error {
	return p.simpleMethod(ctx, "preconnect", "false")
}

// ListExports calls the list_exports method (see parseExports for its answer).
// Without it, the list holds the default export alone.
func (p *Plugin) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	out, found, err := p.text(ctx, "list_exports", strconv.FormatBool(readOnly), tlsArg(ctx))
	if err != nil {
		return nil, err
	}
	if !found {
		name, err := p.DefaultExport(ctx, readOnly)
		if err != nil {
			return nil, err
		}
		return []server.Export{{Name: name}}, nil
	}
	exports, err := parseExports(out)
	if err != nil {
		return nil, p.errorf("list_exports", "%v", err)
	}
	return exports, nil
}

// DefaultExport calls the default_export method, whose answer is a list as
// list_exports prints it: the first name is the default export's, and an empty list
// means "". Without it the default export is "".
func (p *Plugin) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	out, found, err := p.text(ctx, "default_export", strconv.FormatBool(readOnly), tlsArg(ctx))
	if err != nil || !found {
		return "", err
	}
	exports, err := parseExports(out)
	if err != nil {
		return "", p.errorf("default_export", "%v", err)
	}
	if len(exports) == 0 {
		return "", nil
	}
	return exports[0].Name, nil
}

// Open calls the open method, whose standard output (less one final newline) is the
// handle passed to every later call for the connection. Without it the handle is "".
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	out, _, err := p.text(ctx, "open", strconv.FormatBool(req.ReadOnly), req.ExportName, tlsArg(ctx))
	if err != nil {
		return nil, err
	}
	return &handle{p: p, id: chomp(out), readOnly: req.ReadOnly}, nil
}

// Cleanup calls the unload method, whose errors are only logged, and removes
// $tmpdir. Calls after the first do nothing.
func (p *Plugin) Cleanup(ctx context.Context) {
	p.cleanup.Do(func() {
		if err := p.simpleMethod(ctx, "unload"); err != nil {
			p.log.Error("unload failed", "err", err)
		}
		p.removeTmpDir()
	})
}

// DumpPlugin writes what `gonbd --dump-plugin` adds: the highest exit code with a
// meaning (max_known_status, as nbdkit ≥ 1.34 prints it), then whatever the script's
// dump_plugin method prints.
func (p *Plugin) DumpPlugin(w io.Writer) {
	fmt.Fprintf(w, "max_known_status=%d\n", exitFalse)
	out, _, err := p.text(context.Background(), "dump_plugin")
	if err != nil {
		p.log.Error("dump_plugin failed", "err", err)
		return
	}
	io.WriteString(w, out)
	if out != "" && out[len(out)-1] != '\n' {
		io.WriteString(w, "\n")
	}
}

// TmpDir returns the directory the scripts get as $tmpdir.
func (p *Plugin) TmpDir() string { return p.tmpdir }

func (p *Plugin) removeTmpDir() {
	if p.tmpdir == "" {
		return
	}
	if err := os.RemoveAll(p.tmpdir); err != nil {
		p.log.Warn("removing $tmpdir", "dir", p.tmpdir, "err", err)
	}
}

// simpleMethod calls a method that answers nothing but success: missing is fine,
// false is not.
func (p *Plugin) simpleMethod(ctx context.Context, method string, args ...string) error {
	st, err := p.call(ctx, invocation{method: method, args: args})
	if err == nil && st == statusFalse {
		return p.unexpectedFalse(method)
	}
	return err
}

// text calls a method that answers on standard output and returns the answer, and
// whether the method exists.
func (p *Plugin) text(ctx context.Context, method string, args ...string) (string, bool, error) {
	out := &cappedBuffer{limit: maxTextOutput}
	st, err := p.call(ctx, invocation{method: method, args: args, stdout: out})
	switch {
	case err != nil:
		return "", false, err
	case st == statusFalse:
		return "", false, p.unexpectedFalse(method)
	case st == statusMissing:
		return "", false, nil
	case out.truncated:
		return "", false, p.errorf(method, "the answer is longer than %d bytes", maxTextOutput)
	}
	return out.String(), true, nil
}

// boolean calls a method that answers with its exit code: 0 true, 3 false, and 2
// (missing) def.
func (p *Plugin) boolean(ctx context.Context, method string, def bool, args ...string) (bool, error) {
	st, err := p.call(ctx, invocation{method: method, args: args})
	if err != nil {
		return false, err
	}
	switch st {
	case statusOK:
		return true, nil
	case statusFalse:
		return false, nil
	}
	return def, nil
}

func (p *Plugin) unexpectedFalse(method string) error {
	return p.errorf(method, "unexpected exit code 3 (false) from a method that answers no question")
}

// tlsArg is the tls argument of list_exports, default_export and open.
func tlsArg(ctx context.Context) string {
	info, _ := server.ConnInfoFrom(ctx)
	return strconv.FormatBool(info.TLS)
}

// withoutVar returns env without the variable name.
func withoutVar(env []string, name string) []string {
	kept := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			continue
		}
		kept = append(kept, kv)
	}
	return kept
}
