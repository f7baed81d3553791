package memory

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/memory"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd memory [size=]SIZE [allocator=sparse|malloc[,mlock=true]|zstd]
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "memory",
		Version:        moduleVersion(),
		Description:    "virtual memory (RAM disk) plugin",
		MagicConfigKey: "size",
		ConfigHelp: "size=<SIZE>  (required) Virtual size of the RAM disk (1M, 2G, 7E...).\n" +
			"allocator=sparse|malloc[,mlock=true]|zstd  How the disk is kept in memory (default sparse).",
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
	sizeText, err := p.Required("size")
	if err != nil {
		return opts, fmt.Errorf("%w: give the disk's virtual size, e.g. size=1G", err)
	}
	if opts.Size, err = server.ParseSize(sizeText); err != nil {
		return opts, fmt.Errorf("size=%s: %w", sizeText, err)
	}
	if allocator, ok := p.Lookup("allocator"); ok {
		if opts.Allocator, opts.Mlock, err = parseAllocator(allocator); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// parseAllocator splits an allocator parameter, such as "malloc,mlock=true", into the
// allocator's name and its options. Like nbdkit, only malloc has options; unknown names
// are left for New to refuse.
func parseAllocator(value string) (name string, mlock bool, err error) {
	name, options, hasOptions := strings.Cut(value, ",")
	if !hasOptions {
		return name, false, nil
	}
	if name == allocatorSparse || name == allocatorZstd {
		return "", false, fmt.Errorf("allocator=%s does not take extra parameters", name)
	}
	if name != allocatorMalloc {
		return name, false, nil
	}
	for option := range strings.SplitSeq(options, ",") {
		key, optionValue, ok := strings.Cut(option, "=")
		switch {
		case !ok:
			return "", false, fmt.Errorf("allocator=malloc: parameter %q is not key=value", option)
		case key == "mlock":
			if mlock, err = server.ParseBool(optionValue); err != nil {
				return "", false, fmt.Errorf("allocator=malloc: mlock=%s: %w", optionValue, err)
			}
		default:
			return "", false, fmt.Errorf("allocator=malloc: unknown parameter %s (the only one is mlock)", key)
		}
	}
	return name, mlock, nil
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
