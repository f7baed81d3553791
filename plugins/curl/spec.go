package curl

import (
	"os"
	"runtime/debug"

	"github.com/gonbd/gonbd/server"
)

const modulePath = "github.com/gonbd/gonbd/plugins/curl"

// Spec describes the plugin to the gonbd command line:
//
//	gonbd curl [url=]URL [user=USER] [password=PASSWORD|-|-FD|+FILE]
//	           [header=HEADER ...] [cookie=COOKIE] [cainfo=FILE] [sslverify=false] ...
//
// Secrets given as "-" are typed on the terminal of the process's standard input.
func Spec() server.PluginSpec {
	return server.PluginSpec{
		Name:           "curl",
		Version:        moduleVersion(),
		Description:    "HTTP and HTTPS plugin: read-only, by range requests",
		MagicConfigKey: "url",
		ConfigHelp: "[url=]<URL>                (required) http:// or https:// URL of the disk image.\n" +
			"user=<USER>                User name for HTTP basic authentication.\n" +
			"password=<PASSWORD>|-|-FD|+FILE  Its password (- types it, -FD and +FILE read it).\n" +
			"header=<HEADER>            Send a header (\"Name: value\"), or remove one (\"Name:\"); repeatable.\n" +
			"header-script=<SCRIPT>     Shell script printing the headers.\n" +
			"header-script-renew=<SECS> Run the header script again after SECS seconds.\n" +
			"cookie=<COOKIE>|-|-FD|+FILE  Set the Cookie header.\n" +
			"cookie-script=<SCRIPT>     Shell script printing the cookie.\n" +
			"cookie-script-renew=<SECS> Run the cookie script again after SECS seconds.\n" +
			"cookiefile=[<FILENAME>]    Keep the cookies the server sets, starting with FILENAME's.\n" +
			"user-agent=<USER-AGENT>    Send a User-Agent header (default: none).\n" +
			"cainfo=<FILE>              Trust the certificate authorities of FILE instead of the system's.\n" +
			"capath=<DIR>               Trust the certificate authorities of DIR as well.\n" +
			"sslverify=false            Do not verify the server's certificate.\n" +
			"ssl-version=<VERSION>      Oldest TLS version accepted: tlsv1, tlsv1.0 ... tlsv1.3.\n" +
			"ssl-cipher-list=C1:C2:..   Cipher suites offered for TLS 1.2 and older.\n" +
			"followlocation=false       Do not follow redirects.\n" +
			"protocols=PROTO,PROTO,..   Protocols allowed, also in redirects (default http,https).\n" +
			"proxy=<PROXY>              Proxy URL (default: the environment's; empty: none).\n" +
			"proxy-user=<USER>          User name for the proxy.\n" +
			"proxy-password=<PASSWORD>|-|-FD|+FILE  Its password.\n" +
			"unix-socket-path=<PATH>    Connect to the web server's Unix domain socket.\n" +
			"connections=<N>            Connections to the server, shared by all clients (default 4).\n" +
			"timeout=<SECS>             Time limit of each request (default none).\n" +
			"tcp-keepalive=<BOOL>       TCP keepalive probes (default Go's: every 15 s).\n" +
			"tcp-nodelay=false          Enable Nagle's algorithm.",
		New: func(p *server.Params) (server.Plugin, error) {
			opts, err := optionsFromParams(p, secretReader{stdin: os.Stdin, prompt: os.Stderr})
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
