package partitioning

import (
	"fmt"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/partitioning"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd partitioning [file=]FILE [[file=]FILE ...] [partition-type=mbr|gpt]
//	    [alignment=N] [mbr-id=0xN|default] [type-guid=GUID|default]
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "partitioning",
		Version:        moduleVersion(),
		Description:    "create a partitioned virtual disk from files, one per partition",
		MagicConfigKey: "file",
		ConfigHelp: "file=<FILENAME>  (required) A file holding a partition; repeat for more partitions.\n" +
			"partition-type=mbr|gpt  The partition table (default: gpt for > 4 files or > 2 TiB, else mbr).\n" +
			"alignment=<SIZE>  Alignment of the following partitions (default 1M).\n" +
			"mbr-id=0xN|default  MBR type byte of the following partitions (default 0x83).\n" +
			"type-guid=<GUID>|default  GPT type of the following partitions (default Linux filesystem).",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(opts)
		},
	}
}

// optionsFromParams reads the plugin's parameters as nbdkit does: alignment=, mbr-id=
// and type-guid= apply to the files that follow them on the command line, until given
// again.
func optionsFromParams(p *server.Params) (Options, error) {
	opts := Options{Logger: p.Logger}
	current := Partition{}
	for _, param := range p.List() {
		var err error
		switch param.Key {
		case "file":
			current.File = param.Value
			opts.Partitions = append(opts.Partitions, current)
		case "alignment":
			current.Alignment, err = parseAlignment(param.Value)
		case "mbr-id":
			current.MBRType, err = parseMBRType(param.Value)
		case "type-guid":
			current.TypeGUID, err = parseTypeGUID(param.Value)
		case "partition-type":
			opts.TableType, err = parseTableType(param.Value)
		default:
			continue // not ours: left unused for the command line to report
		}
		if err != nil {
			return opts, fmt.Errorf("%s=%s: %w", param.Key, param.Value, err)
		}
	}
	for _, key := range []string{"file", "alignment", "mbr-id", "type-guid", "partition-type"} {
		p.All(key) // mark them used
	}
	if len(opts.Partitions) == 0 {
		return opts, fmt.Errorf("at least one file= parameter must be given: each file becomes a partition")
	}
	return opts, nil
}

func parseAlignment(s string) (int64, error) {
	a, err := server.ParseSize(s)
	if err != nil {
		return 0, err
	}
	return a, checkAlignment(a)
}

// parseMBRType parses a type byte with C's syntax (0x83, 131 or 0203), or "default".
func parseMBRType(s string) (byte, error) {
	if s == "default" {
		return defaultMBRType, nil
	}
	n, err := server.ParseUint(s, 8)
	if err != nil {
		return 0, fmt.Errorf("%w (give a byte such as 0x83, or default)", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("type 0 marks an unused entry, which would hide the partition")
	}
	return byte(n), nil
}

func parseTypeGUID(s string) (GUID, error) {
	if s == "default" {
		return linuxFilesystemGUID(), nil
	}
	g, err := ParseGUID(s)
	if err == nil && g == (GUID{}) {
		err = fmt.Errorf("the zero GUID marks an unused entry, which would hide the partition")
	}
	return g, err
}

func parseTableType(s string) (TableType, error) {
	switch t := TableType(s); t {
	case TableMBR, TableGPT:
		return t, nil
	}
	return "", fmt.Errorf("unknown partition table type: the types are mbr and gpt")
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
