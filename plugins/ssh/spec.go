package ssh

import (
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/ssh"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd ssh host=HOST [path=]PATH [port=PORT] [user=USER]
//	          [password=PASSWORD|-|+FILE|-FD] [identity=FILE ...] [known-hosts=FILE ...]
//	          [verify-remote-host=false] [create=true create-size=SIZE [create-mode=MODE]]
//	          [timeout=SECS] [compression=false] [config=]
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "ssh",
		Version:        moduleVersion(),
		Description:    "serve a file of an SSH server, over SFTP",
		MagicConfigKey: "path",
		ConfigHelp: "host=<HOST>                  (required) The SSH server's name or address.\n" +
			"[path=]<PATH>                (required) The remote file; relative to the remote home directory.\n" +
			"port=<PORT>                  The server's port or service name (default 22).\n" +
			"user=<USER>                  The remote user (default: the local user).\n" +
			"password=<PASSWORD>|-|+FILE|-FD  The password, typed (-), read from FILE or from descriptor FD.\n" +
			"identity=<FILE>              A private key to log in with; repeat for more.\n" +
			"known-hosts=<FILE>           A known_hosts file; repeat for more (default ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts).\n" +
			"verify-remote-host=<BOOL>    Check the server's host key (default true).\n" +
			"create=<BOOL>                Create (or truncate) the file when the first client connects.\n" +
			"create-size=<SIZE>           The size of the file create=true makes.\n" +
			"create-mode=<MODE>           Its permissions, in octal with a leading 0 (default 0600).\n" +
			"timeout=<SECS>               Limit on connecting and logging in, in seconds.\n" +
			"compression=false            Accepted; compression=true is not supported.\n" +
			"config=                      Accepted (no ssh_config is read); config=FILE is not supported.",
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
