package partition

import (
	"fmt"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/filters/partition"

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=partition PLUGIN partition=N [plugin-args...]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "partition",
		Version:     moduleVersion(),
		Description: "serve one partition of an MBR or GPT partitioned disk",
		ConfigHelp:  "partition=<PART>  (required) The partition to serve, counting from 1 (5 and up: MBR logical partitions).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			text, err := p.Required("partition")
			if err != nil {
				return nil, fmt.Errorf("%w: give the number of the partition to serve, e.g. partition=1", err)
			}
			n, err := server.ParseInt(text, 32)
			if err != nil {
				return nil, fmt.Errorf("partition=%s: %w", text, err)
			}
			return New(next, Options{Partition: int(n), Logger: p.Logger})
		},
	}
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
