package file

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/file"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd file [file=]PATH [cache=default|none] [fadvise=normal|random|sequential]
//	gonbd file dir=DIR | fd=N | dirfd=N ...
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "file",
		Version:        moduleVersion(),
		Description:    "serves a file, a block device, or the files of a directory",
		MagicConfigKey: "file",
		ConfigHelp: "[file=]<FILENAME>  The file or block device to serve.\n" +
			"dir=<DIRNAME>  Serve the files of this directory, by export name.\n" +
			"fd=<N>  Serve the file open on this inherited descriptor.\n" +
			"dirfd=<N>  Serve the files of the directory open on this inherited descriptor.\n" +
			"cache=default|none  none: bypass the page cache (O_DIRECT).\n" +
			"fadvise=normal|random|sequential  The access pattern to tell the kernel.",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(opts)
		},
	}
}

// optionsFromParams reads the plugin's parameters, with nbdkit's syntax.
func optionsFromParams(p *server.Params) (Options, error) {
	opts := Options{Logger: p.Logger}
	var given bool
	if opts.File, given = p.Lookup("file"); given && opts.File == "" {
		return opts, fmt.Errorf("file= is empty: give the path of the file to serve")
	}
	if opts.Dir, given = p.Lookup("dir"); given && opts.Dir == "" {
		return opts, fmt.Errorf("dir= is empty: give the path of the directory to serve")
	}
	switch cache := p.String("cache", "default"); cache {
	case "default":
	case "none":
		opts.NoCache = true
	default:
		return opts, fmt.Errorf("cache=%s: unknown cache mode (it is default or none)", cache)
	}
	switch advice := p.String("fadvise", "normal"); advice {
	case "normal":
	case "random":
		opts.Advice = AdviceRandom
	case "sequential":
		opts.Advice = AdviceSequential
	default:
		return opts, fmt.Errorf("fadvise=%s: unknown access pattern (it is normal, random or sequential)", advice)
	}
	// The descriptors last: from here on the plugin owns them, and New closes them
	// if it fails.
	var err error
	if opts.FD, err = descriptorParam(p, "fd"); err != nil {
		return opts, err
	}
	if opts.DirFD, err = descriptorParam(p, "dirfd"); err != nil {
		if opts.FD != nil {
			opts.FD.Close()
		}
		return opts, err
	}
	return opts, nil
}

// descriptorParam reads fd= or dirfd=: the number of a descriptor the server
// inherited, which the plugin then owns.
func descriptorParam(p *server.Params, key string) (*os.File, error) {
	value, ok := p.Lookup(key)
	if !ok {
		return nil, nil
	}
	n, err := server.ParseInt(value, 32)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", key, value, err)
	}
	if n < 0 {
		return nil, fmt.Errorf("%s=%s: a file descriptor cannot be negative", key, value)
	}
	return os.NewFile(uintptr(n), key+"="+strconv.FormatInt(n, 10)), nil
}

// moduleVersion returns the version of this module the running program was built with,
// or "devel" for a build from a work tree.
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
