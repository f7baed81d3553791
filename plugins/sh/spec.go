package sh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/sh"

// inlineScriptName is the file in $tmpdir that holds a script read from standard input.
const inlineScriptName = "inline-script.sh"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd sh [script=]SCRIPT [KEY=VALUE ...]
//	gonbd sh - [KEY=VALUE ...] <<'EOF'
//	...
//	EOF
//
// The first parameter must be the script; the others go to the script's config
// method. "-" reads the script from standard input.
func Spec() server.PluginSpec { return spec(os.Stdin) }

// spec is Spec reading inline scripts from stdin.
func spec(stdin io.Reader) server.PluginSpec {
	return server.PluginSpec{
		Name:           "sh",
		Version:        moduleVersion(),
		Description:    "plugin written as a shell script or any executable",
		MagicConfigKey: "script",
		ConfigHelp: "script=<FILENAME>  (required) The script or program to run; - reads a script from standard input.\n" +
			"[KEY=VALUE ...]  Passed to the script's config method.",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p, stdin)
			if err != nil {
				return nil, err
			}
			return New(opts)
		},
	}
}

// optionsFromParams reads the command line as nbdkit's sh plugin does: the first
// parameter is the script, and every other one goes to the script's config method; a
// later script= is a bare value, for the script's own magic key. It reads an inline
// script, and so makes $tmpdir to put it in.
func optionsFromParams(p *server.Params, stdin io.Reader) (Options, error) {
	params := p.List()
	for _, param := range params {
		p.All(param.Key) // every parameter is the script's
	}
	if len(params) == 0 {
		return Options{}, errors.New("missing script parameter: give the script to run, e.g. gonbd sh ./plugin.sh")
	}
	if params[0].Key != "script" {
		return Options{}, fmt.Errorf("the first parameter must be script=/path/to/script, not %s=%s", params[0].Key, params[0].Value)
	}
	opts := Options{Logger: p.Logger}
	for _, param := range params[1:] {
		if param.Key == "script" {
			param.Key = ""
		}
		opts.Config = append(opts.Config, param)
	}

	if script := params[0].Value; script != "-" {
		path, err := scriptPath(script)
		if err != nil {
			return Options{}, err
		}
		opts.Script = path
		return opts, nil
	}
	dir, err := os.MkdirTemp("", "gonbd-sh-")
	if err != nil {
		return Options{}, fmt.Errorf("making $tmpdir: %w", err)
	}
	opts.TmpDir = dir
	if opts.Script, err = saveInlineScript(dir, stdin); err != nil {
		os.RemoveAll(dir)
		return Options{}, err
	}
	return opts, nil
}

// scriptPath returns the absolute path of a script, with symbolic links resolved as
// nbdkit resolves them, so that scripts see where they really are in $0.
func scriptPath(script string) (string, error) {
	abs, err := filepath.Abs(script)
	if err != nil {
		return "", fmt.Errorf("script=%s: %w", script, err)
	}
	path, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("script=%s: %w", script, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("script=%s: %w", script, err)
	}
	if info.IsDir() {
		return "", fmt.Errorf("script=%s: is a directory", script)
	}
	return path, nil
}

// saveInlineScript copies the script on stdin into dir, executable, and returns its
// path. Without a "#!" line it runs under /bin/sh.
func saveInlineScript(dir string, stdin io.Reader) (string, error) {
	if stdin == nil {
		return "", errors.New("script=-: there is no standard input to read the script from")
	}
	path := filepath.Join(dir, inlineScriptName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		return "", fmt.Errorf("script=-: %w", err)
	}
	n, err := io.Copy(f, stdin)
	if err != nil {
		f.Close()
		return "", fmt.Errorf("script=-: reading the script from standard input: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("script=-: %w", err)
	}
	if n == 0 {
		// An empty script would answer every method with success and no output;
		// more likely standard input was not what the user meant.
		return "", errors.New("script=-: standard input is empty; give the script there, and keep gonbd in the foreground (-f or --run), where it has the standard input it started with")
	}
	return path, nil
}

// moduleVersion returns the version of this module the running program was built
// with, or "devel" for a build from a work tree.
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	version := info.Main.Version
	if info.Main.Path != modulePath {
		version = ""
		for _, dep := range info.Deps {
			if dep.Path == modulePath {
				version = dep.Version
			}
		}
	}
	if version == "" || version == "(devel)" {
		return "devel"
	}
	return version
}
