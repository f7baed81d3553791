package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// config is what the options of a command line ask for. Its zero value is gonbd with
// no option given.
type config struct {
	// What to do instead of serving.
	help, version, dumpConfig, dumpPlugin bool
	completion                            string

	// Where to listen.
	unixSocket   string // -U: a path, or "-" for a private socket
	port         string // -p: a number or service name; empty means the default
	ipAddr       string // -i
	family       string // "tcp", or "tcp4"/"tcp6" after -4/-6
	vsock        bool
	single       bool // -s
	printURI     bool
	run          string
	runSet       bool
	exportName   string // -e, for --run and --print-uri
	exportSet    bool
	selinuxLabel string

	// How to run.
	foreground     bool
	exitWithParent bool
	pidFile        string
	user, group    string
	swap           bool
	verbose        bool
	debugFlags     []debugFlag
	log            string // stderr, syslog, null or a file; empty: the default

	// How to serve.
	filters       []string
	opts          server.Options
	tls           string
	tlsCertDir    string
	tlsPSK        string
	tlsVerifyPeer bool
	tlsCerts      *server.TLSCertificates // loaded by setupTLS; nil without TLS
}

// debugFlag is a -D NAME.FLAG=N option.
type debugFlag struct {
	layer, flag string
	value       int64
}

// options is the command line's option table, in the order help lists it.
func options() []optionSpec {
	set := func(field func(c *config) *bool) func(*config, string) error {
		return func(c *config, _ string) error { *field(c) = true; return nil }
	}
	return []optionSpec{
		{short: '4', long: []string{"ipv4-only"}, help: "listen on IPv4 only",
			apply: func(c *config, _ string) error { c.family = "tcp4"; return nil }},
		{short: '6', long: []string{"ipv6-only"}, help: "listen on IPv6 only",
			apply: func(c *config, _ string) error { c.family = "tcp6"; return nil }},
		{short: 'D', long: []string{"debug"}, arg: "PLUGIN.FLAG=N", help: "set a debug flag of a plugin or filter",
			apply: addDebugFlag},
		{long: []string{"completion"}, arg: "SHELL", values: []string{"bash"}, help: "print a completion script for SHELL and exit",
			apply: func(c *config, v string) error { c.completion = v; return nil }},
		{long: []string{"dump-config"}, help: "print the build's configuration and exit",
			apply: set(func(c *config) *bool { return &c.dumpConfig })},
		{long: []string{"dump-plugin"}, help: "print what is known of the plugin and exit",
			apply: set(func(c *config) *bool { return &c.dumpPlugin })},
		{short: 'e', long: []string{"exportname", "export", "export-name"}, arg: "EXPORTNAME",
			help:  "the export name --run and --print-uri use",
			apply: func(c *config, v string) error { c.exportName, c.exportSet = v, true; return nil }},
		{long: []string{"exit-with-parent"}, help: "exit when the parent process exits (implies -f)",
			apply: set(func(c *config) *bool { return &c.exitWithParent })},
		{short: 'f', long: []string{"foreground", "no-fork"}, help: "do not go to the background",
			apply: set(func(c *config) *bool { return &c.foreground })},
		{long: []string{"filter"}, arg: "FILTER", complete: "filter", help: "add a filter; the first is the closest to the client",
			apply: func(c *config, v string) error { c.filters = append(c.filters, v); return nil }},
		{short: 'g', long: []string{"group"}, arg: "GROUP", complete: "group", help: "change to GROUP after listening",
			apply: func(c *config, v string) error { c.group = v; return nil }},
		{long: []string{"help"}, help: "print this help (or, after a plugin, the plugin's) and exit",
			apply: set(func(c *config) *bool { return &c.help })},
		{long: []string{"idle-timeout"}, arg: "SECONDS", help: "close connections idle this long (default: never)",
			apply: setIdleTimeout},
		{short: 'i', long: []string{"ipaddr", "ip-addr"}, arg: "IPADDR", help: "listen on this address only",
			apply: func(c *config, v string) error { c.ipAddr = v; return nil }},
		{long: []string{"keepalive"}, help: "enable TCP keepalives",
			apply: func(c *config, _ string) error { c.opts.Keepalive = true; return nil }},
		{long: []string{"log"}, arg: "DEST", values: []string{"stderr", "syslog", "null"}, complete: "file",
			help: "send logs to stderr, syslog, null or a file", apply: setLog},
		{long: []string{"mask-handshake"}, arg: "MASK", help: "advertise only these newstyle handshake flags",
			apply: setMaskHandshake},
		{short: 'n', long: []string{"newstyle", "new-style"}, help: "use the newstyle handshake (the default)",
			apply: func(c *config, _ string) error { c.opts.Oldstyle = false; return nil }},
		{long: []string{"no-mc", "no-meta-contexts"}, help: "do not offer meta contexts (block status)",
			apply: func(c *config, _ string) error { c.opts.NoMetaContexts = true; return nil }},
		{long: []string{"no-sr", "no-structured-replies"}, help: "do not offer structured replies",
			apply: func(c *config, _ string) error { c.opts.NoStructuredReplies = true; return nil }},
		{short: 'o', long: []string{"oldstyle", "old-style"}, help: "use the oldstyle handshake",
			apply: func(c *config, _ string) error { c.opts.Oldstyle = true; return nil }},
		{short: 'P', long: []string{"pidfile", "pid-file"}, arg: "PIDFILE", complete: "file", help: "write the server's process ID to PIDFILE",
			apply: func(c *config, v string) error { c.pidFile = v; return nil }},
		{short: 'p', long: []string{"port"}, arg: "PORT", help: "listen on TCP port PORT (default 10809)",
			apply: setPort},
		{long: []string{"print-uri"}, help: "print the URI clients connect to",
			apply: set(func(c *config) *bool { return &c.printURI })},
		{short: 'r', long: []string{"readonly", "read-only"}, help: "serve read-only",
			apply: func(c *config, _ string) error { c.opts.ReadOnly = true; return nil }},
		{long: []string{"run"}, arg: "'COMMAND ARGS ...'", complete: "command", help: "run COMMAND with the server, then exit with its status",
			apply: func(c *config, v string) error { c.run, c.runSet = v, true; return nil }},
		{long: []string{"selinux-label"}, arg: "LABEL", help: "label the listening socket (not supported)",
			apply: func(c *config, v string) error { c.selinuxLabel = v; return nil }},
		{short: 's', long: []string{"single", "stdin"}, help: "serve one connection on stdin/stdout",
			apply: set(func(c *config) *bool { return &c.single })},
		{long: []string{"swap"}, help: "lock the server in memory, for swap devices",
			apply: set(func(c *config) *bool { return &c.swap })},
		{short: 't', long: []string{"threads"}, arg: "THREADS", help: "requests served at once per connection (default 16)",
			apply: setThreads},
		{long: []string{"timeout"}, arg: "SECONDS", help: "handshake deadline (default 60)",
			apply: setTimeout},
		{long: []string{"tls"}, arg: "MODE", values: []string{"off", "on", "require"}, help: "off, on or require TLS",
			apply: setTLS},
		{long: []string{"tls-certificates"}, arg: "DIR", complete: "dir", help: "TLS certificates directory",
			apply: func(c *config, v string) error { c.tlsCertDir = v; return nil }},
		{long: []string{"tls-psk"}, arg: "PSKFILE", complete: "file", help: "TLS pre-shared keys file",
			apply: func(c *config, v string) error { c.tlsPSK = v; return nil }},
		{long: []string{"tls-verify-peer"}, help: "verify client certificates",
			apply: set(func(c *config) *bool { return &c.tlsVerifyPeer })},
		{short: 'U', long: []string{"unix"}, arg: "SOCKET", complete: "file", help: "listen on Unix socket SOCKET (- for a private one)",
			apply: func(c *config, v string) error { c.unixSocket = v; return nil }},
		{short: 'u', long: []string{"user"}, arg: "USER", complete: "user", help: "change to USER after listening",
			apply: func(c *config, v string) error { c.user = v; return nil }},
		{short: 'v', long: []string{"verbose"}, help: "log debug messages",
			apply: set(func(c *config) *bool { return &c.verbose })},
		{short: 'V', long: []string{"version"}, help: "print the version and exit",
			apply: set(func(c *config) *bool { return &c.version })},
		{long: []string{"vsock"}, help: "listen on AF_VSOCK port -p instead of TCP",
			apply: set(func(c *config) *bool { return &c.vsock })},
	}
}

// parseCommandLine parses args into a config and the operands: the plugin's name and
// its parameters.
func parseCommandLine(args []string) (*config, []string, error) {
	parsed, operands, err := getopt(options(), args)
	if err != nil {
		return nil, nil, err
	}
	c := &config{family: "tcp"}
	for _, o := range parsed {
		if err := o.spec.apply(c, o.value); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.name, err)
		}
	}
	return c, operands, nil
}

func addDebugFlag(c *config, v string) error {
	name, value, ok := strings.Cut(v, "=")
	layer, flag, dotted := strings.Cut(name, ".")
	if !ok || !dotted || layer == "" || flag == "" {
		return fmt.Errorf("%q is not NAME.FLAG=N", v)
	}
	n, err := server.ParseInt(value, 64)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.debugFlags = append(c.debugFlags, debugFlag{layer, flag, n})
	return nil
}

func setLog(c *config, v string) error {
	if v == "" {
		return fmt.Errorf("empty log destination (stderr, syslog, null or a file name)")
	}
	c.log = v
	return nil
}

func setMaskHandshake(c *config, v string) error {
	n, err := server.ParseUint(v, 32)
	if err != nil {
		return err
	}
	// The handshake flags are 16 bits; like nbdkit, higher bits mask nothing.
	c.opts.MaskHandshake = protocol.HandshakeFlags(n)
	c.opts.MaskHandshakeSet = true
	return nil
}

func setPort(c *config, v string) error {
	if v == "" {
		return fmt.Errorf("empty port")
	}
	c.port = v
	return nil
}

func setThreads(c *config, v string) error {
	n, err := server.ParseUint(v, 31)
	if err != nil {
		return err
	}
	// nbdkit takes 0 for its default.
	c.opts.Threads = int(n)
	return nil
}

func setTimeout(c *config, v string) error {
	seconds, err := strconv.ParseFloat(v, 64)
	if err != nil || seconds <= 0 || seconds > 1e9 {
		return fmt.Errorf("%q is not a positive number of seconds", v)
	}
	c.opts.HandshakeTimeout = time.Duration(seconds * float64(time.Second))
	return nil
}

// setIdleTimeout sets --idle-timeout, a gonbd extension: nbdkit has no such limit.
func setIdleTimeout(c *config, v string) error {
	seconds, err := strconv.ParseFloat(v, 64)
	if err != nil || seconds < 0 || seconds > 1e9 {
		return fmt.Errorf("%q is not a number of seconds (0 for no limit)", v)
	}
	c.opts.IdleTimeout = time.Duration(seconds * float64(time.Second))
	return nil
}

func setTLS(c *config, v string) error {
	switch v {
	case "off", "on", "require":
		c.tls = v
		return nil
	}
	// nbdkit also takes the booleans of nbdkit_parse_bool for on and off.
	on, err := server.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%q is not off, on or require", v)
	}
	c.tls = map[bool]string{false: "off", true: "on"}[on]
	return nil
}
