package data

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/data"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd data [data=]'0 1 2 3 @0x1fe 0x55 0xaa' [VAR=VALUE...] [size=SIZE] [allocator=...]
//	gonbd data base64=BASE64 [size=SIZE] [allocator=...]
//	gonbd data raw=BYTES [size=SIZE] [allocator=...]
//
// Parameters other than these are the values of the $VARs of data=; variables not
// given so are looked up in the environment.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "data",
		Version:        moduleVersion(),
		Description:    "serve data given on the command line",
		MagicConfigKey: "data",
		ConfigHelp: "data|raw|base64=...  (exactly one) The disk's contents: the data language, raw bytes, or base64.\n" +
			"VAR=VALUE            With data=, the value of $VAR (else $VAR is looked up in the environment).\n" +
			"size=<SIZE>          Cut or pad the disk to this size (default: the size of the contents).\n" +
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
	opts := Options{Logger: p.Logger, LookupEnv: os.LookupEnv}
	data, raw, b64 := p.All("data"), p.All("raw"), p.All("base64")
	if len(data)+len(raw)+len(b64) != 1 {
		return opts, errors.New("give the disk's contents exactly once, with one of data=, raw= or base64=")
	}
	switch {
	case len(data) == 1:
		opts.Data = data[0]
	case len(raw) == 1:
		opts.Raw = []byte(raw[0])
	default:
		decoded, err := decodeBase64(b64[0])
		if err != nil {
			return opts, fmt.Errorf("base64=: %w", err)
		}
		opts.Raw = decoded
	}
	if sizeText, ok := p.Lookup("size"); ok {
		size, err := server.ParseSize(sizeText)
		if err != nil {
			return opts, fmt.Errorf("size=%s: %w", sizeText, err)
		}
		opts.Size, opts.HasSize = size, true
	}
	if allocator, ok := p.Lookup("allocator"); ok {
		var err error
		if opts.Allocator, opts.Mlock, err = parseAllocator(allocator); err != nil {
			return opts, err
		}
	}
	variables := make(map[string]string)
	for _, param := range p.List() {
		if !isReserved(param.Key) {
			variables[param.Key], _ = p.Lookup(param.Key) // the last value wins
		}
	}
	if len(variables) > 0 && opts.Raw != nil {
		return opts, fmt.Errorf("unknown parameter %s: parameters other than size= and allocator= are variables, which only data= has", firstKey(p.List()))
	}
	opts.Variables = variables
	return opts, nil
}

// isReserved reports whether key is one of the plugin's own parameters; with data=,
// every other key is a variable.
func isReserved(key string) bool {
	switch key {
	case "data", "raw", "base64", "size", "allocator":
		return true
	}
	return false
}

// firstKey returns the first key of list that is not one of the plugin's own.
func firstKey(list []server.Param) string {
	for _, param := range list {
		if !isReserved(param.Key) {
			return param.Key
		}
	}
	return ""
}

// decodeBase64 decodes standard, padded base64, ignoring white space as nbdkit (GnuTLS)
// does.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r < 0x80 && isSpace(byte(r)) {
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64 (standard alphabet, padded with =): %w", err)
	}
	return b, nil
}

// parseAllocator splits an allocator parameter, such as "malloc,mlock=true", into the
// allocator's name and its options. As in nbdkit, only malloc has options; unknown
// names are left for New to refuse.
func parseAllocator(value string) (name string, mlock bool, err error) {
	name, options, hasOptions := strings.Cut(value, ",")
	if !hasOptions || (name != allocatorMalloc && name != allocatorSparse && name != allocatorZstd) {
		return name, false, nil
	}
	if name != allocatorMalloc {
		return "", false, fmt.Errorf("allocator=%s does not take extra parameters", name)
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
