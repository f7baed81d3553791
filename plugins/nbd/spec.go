package nbd

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/nbd"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd nbd { [uri=]URI | socket=PATH | hostname=HOST [port=PORT] |
//	            socket-fd=FD | command=PROGRAM [arg=ARG ...] }
//	          [export=NAME] [dynamic-export=BOOL] [shared=BOOL] [retry=N]
//	          [tls=off|on|require] [tls-certificates=DIR] [tls-verify=BOOL]
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "nbd",
		Version:        moduleVersion(),
		Description:    "proxy to another NBD server",
		MagicConfigKey: "uri",
		ConfigHelp: "[uri=]<URI>            NBD URI of the server (nbd://, nbds://, nbd+unix://, nbds+unix://).\n" +
			"socket=<PATH>          Unix socket of the server.\n" +
			"hostname=<HOST>        Host name of a TCP server.\n" +
			"port=<PORT>            TCP port or service name (default 10809).\n" +
			"socket-fd=<FD>         Inherited socket connected to the server (implies shared=true).\n" +
			"command=<PROGRAM>      Run the server, with socket activation (implies shared=true).\n" +
			"arg=<ARG>              An argument of the command; repeat for more.\n" +
			"export=<NAME>          Export to open on the server (default \"\").\n" +
			"dynamic-export=<BOOL>  Open the export each client asks for (default false).\n" +
			"shared=<BOOL>          One connection to the server for every client (default false).\n" +
			"retry=<N>              Try connecting N more times, a second apart (default 0).\n" +
			"tls=off|on|require     Encrypt the connection to the server (default off).\n" +
			"tls-certificates=<DIR> X.509 files: ca-cert.pem, client-cert.pem, client-key.pem.\n" +
			"tls-verify=<BOOL>      Verify the server's certificate (default true).",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(opts)
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
