package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
)

// TestOptions parses every option under each of its names and forms, and checks the
// config it makes.
func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(c *config) bool
	}{
		{[]string{"-4"}, func(c *config) bool { return c.family == "tcp4" }},
		{[]string{"--ipv4-only"}, func(c *config) bool { return c.family == "tcp4" }},
		{[]string{"-6"}, func(c *config) bool { return c.family == "tcp6" }},
		{[]string{"--ipv6-only"}, func(c *config) bool { return c.family == "tcp6" }},
		{[]string{"-4", "-6"}, func(c *config) bool { return c.family == "tcp6" }}, // the last wins
		{[]string{"-D", "memory.flag=1"}, func(c *config) bool {
			return slices.Equal(c.debugFlags, []debugFlag{{"memory", "flag", 1}})
		}},
		{[]string{"--debug=nbdkit.backend.datapath=0"}, func(c *config) bool {
			return slices.Equal(c.debugFlags, []debugFlag{{"nbdkit", "backend.datapath", 0}})
		}},
		{[]string{"--dump-config"}, func(c *config) bool { return c.dumpConfig }},
		{[]string{"--dump-plugin"}, func(c *config) bool { return c.dumpPlugin }},
		{[]string{"-e", "foo"}, func(c *config) bool { return c.exportName == "foo" && c.exportSet }},
		{[]string{"-efoo"}, func(c *config) bool { return c.exportName == "foo" }},
		{[]string{"--export=foo"}, func(c *config) bool { return c.exportName == "foo" }},
		{[]string{"--export-name", "foo"}, func(c *config) bool { return c.exportName == "foo" }},
		{[]string{"--exportname=foo"}, func(c *config) bool { return c.exportName == "foo" }},
		{[]string{"--exportname="}, func(c *config) bool { return c.exportName == "" && c.exportSet }},
		{[]string{"--exit-with-parent"}, func(c *config) bool { return c.exitWithParent }},
		{[]string{"-f"}, func(c *config) bool { return c.foreground }},
		{[]string{"--foreground"}, func(c *config) bool { return c.foreground }},
		{[]string{"--no-fork"}, func(c *config) bool { return c.foreground }},
		{[]string{"--filter=a", "--filter", "b"}, func(c *config) bool { return slices.Equal(c.filters, []string{"a", "b"}) }},
		{[]string{"-g", "disk"}, func(c *config) bool { return c.group == "disk" }},
		{[]string{"--group=disk"}, func(c *config) bool { return c.group == "disk" }},
		{[]string{"--help"}, func(c *config) bool { return c.help }},
		{[]string{"-i", "::1"}, func(c *config) bool { return c.ipAddr == "::1" }},
		{[]string{"--ipaddr=127.0.0.1"}, func(c *config) bool { return c.ipAddr == "127.0.0.1" }},
		{[]string{"--ip-addr", "localhost"}, func(c *config) bool { return c.ipAddr == "localhost" }},
		{[]string{"--keepalive"}, func(c *config) bool { return c.opts.Keepalive }},
		{[]string{"--log=null"}, func(c *config) bool { return c.log == "null" }},
		{[]string{"--log", "/var/log/gonbd.log"}, func(c *config) bool { return c.log == "/var/log/gonbd.log" }},
		{[]string{"--mask-handshake=0"}, func(c *config) bool { return c.opts.MaskHandshakeSet && c.opts.MaskHandshake == 0 }},
		{[]string{"--mask-handshake", "0x1"}, func(c *config) bool { return c.opts.MaskHandshake == protocol.HandshakeFixedNewstyle }},
		{[]string{"-o", "-n"}, func(c *config) bool { return !c.opts.Oldstyle }},
		{[]string{"--newstyle"}, func(c *config) bool { return !c.opts.Oldstyle }},
		{[]string{"--new-style"}, func(c *config) bool { return !c.opts.Oldstyle }},
		{[]string{"--no-mc"}, func(c *config) bool { return c.opts.NoMetaContexts }},
		{[]string{"--no-meta-contexts"}, func(c *config) bool { return c.opts.NoMetaContexts }},
		{[]string{"--no-sr"}, func(c *config) bool { return c.opts.NoStructuredReplies }},
		{[]string{"--no-structured-replies"}, func(c *config) bool { return c.opts.NoStructuredReplies }},
		{[]string{"-o"}, func(c *config) bool { return c.opts.Oldstyle }},
		{[]string{"--oldstyle"}, func(c *config) bool { return c.opts.Oldstyle }},
		{[]string{"--old-style"}, func(c *config) bool { return c.opts.Oldstyle }},
		{[]string{"-P", "pid"}, func(c *config) bool { return c.pidFile == "pid" }},
		{[]string{"--pidfile=pid"}, func(c *config) bool { return c.pidFile == "pid" }},
		{[]string{"--pid-file", "pid"}, func(c *config) bool { return c.pidFile == "pid" }},
		{[]string{"-p", "10810"}, func(c *config) bool { return c.port == "10810" }},
		{[]string{"-p10810"}, func(c *config) bool { return c.port == "10810" }},
		{[]string{"--port=nbd"}, func(c *config) bool { return c.port == "nbd" }},
		{[]string{"--print-uri"}, func(c *config) bool { return c.printURI }},
		{[]string{"-r"}, func(c *config) bool { return c.opts.ReadOnly }},
		{[]string{"--readonly"}, func(c *config) bool { return c.opts.ReadOnly }},
		{[]string{"--read-only"}, func(c *config) bool { return c.opts.ReadOnly }},
		{[]string{"--read"}, func(c *config) bool { return c.opts.ReadOnly }}, // a prefix of both names
		{[]string{"--run", "nbdinfo $uri"}, func(c *config) bool { return c.run == "nbdinfo $uri" && c.runSet }},
		{[]string{"--run=-x"}, func(c *config) bool { return c.run == "-x" }},
		{[]string{"--selinux-label=l"}, func(c *config) bool { return c.selinuxLabel == "l" }},
		{[]string{"-s"}, func(c *config) bool { return c.single }},
		{[]string{"--single"}, func(c *config) bool { return c.single }},
		{[]string{"--stdin"}, func(c *config) bool { return c.single }},
		{[]string{"--swap"}, func(c *config) bool { return c.swap }},
		{[]string{"-t", "4"}, func(c *config) bool { return c.opts.Threads == 4 }},
		{[]string{"--threads=1"}, func(c *config) bool { return c.opts.Threads == 1 }},
		{[]string{"--idle-timeout=2.5"}, func(c *config) bool { return c.opts.IdleTimeout == 2500*time.Millisecond }},
		{[]string{"--timeout=1.5"}, func(c *config) bool { return c.opts.HandshakeTimeout == 1500*time.Millisecond }},
		{[]string{"--tls=off"}, func(c *config) bool { return c.tls == "off" }},
		{[]string{"--tls", "require"}, func(c *config) bool { return c.tls == "require" }},
		{[]string{"--tls=yes"}, func(c *config) bool { return c.tls == "on" }},
		{[]string{"--tls-certificates=/etc/pki"}, func(c *config) bool { return c.tlsCertDir == "/etc/pki" }},
		{[]string{"--tls-psk", "keys.psk"}, func(c *config) bool { return c.tlsPSK == "keys.psk" }},
		{[]string{"--tls-verify-peer"}, func(c *config) bool { return c.tlsVerifyPeer }},
		{[]string{"-U", "sock"}, func(c *config) bool { return c.unixSocket == "sock" }},
		{[]string{"-U-"}, func(c *config) bool { return c.unixSocket == "-" }},
		{[]string{"--unix", "-"}, func(c *config) bool { return c.unixSocket == "-" }},
		{[]string{"-u", "nobody"}, func(c *config) bool { return c.user == "nobody" }},
		{[]string{"--user=nobody"}, func(c *config) bool { return c.user == "nobody" }},
		{[]string{"-v"}, func(c *config) bool { return c.verbose }},
		{[]string{"--verbose"}, func(c *config) bool { return c.verbose }},
		{[]string{"--verb"}, func(c *config) bool { return c.verbose }},
		{[]string{"-V"}, func(c *config) bool { return c.version }},
		{[]string{"--version"}, func(c *config) bool { return c.version }},
		{[]string{"--vsock"}, func(c *config) bool { return c.vsock }},
		{[]string{"--completion=bash"}, func(c *config) bool { return c.completion == "bash" }},
		// Bundles: flags, then one option that takes the rest or the next argument.
		{[]string{"-fvr"}, func(c *config) bool { return c.foreground && c.verbose && c.opts.ReadOnly }},
		{[]string{"-fU", "sock"}, func(c *config) bool { return c.foreground && c.unixSocket == "sock" }},
		{[]string{"-fUsock"}, func(c *config) bool { return c.foreground && c.unixSocket == "sock" }},
	} {
		name := strings.Join(tc.args, " ")
		c, _, err := parseCommandLine(tc.args)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s: wrong config %+v", name, *c)
		}
	}
}

func TestEveryOptionIsTested(t *testing.T) {
	// A reminder to extend TestOptions: every long name must appear there.
	src := strings.Join([]string{"--ipv4-only", "--ipv6-only", "--debug", "--completion", "--dump-config",
		"--dump-plugin", "--exportname", "--export", "--export-name", "--exit-with-parent", "--foreground",
		"--no-fork", "--filter", "--group", "--help", "--idle-timeout", "--ipaddr", "--ip-addr", "--keepalive", "--log",
		"--mask-handshake", "--newstyle", "--new-style", "--no-mc", "--no-meta-contexts", "--no-sr",
		"--no-structured-replies", "--oldstyle", "--old-style", "--pidfile", "--pid-file", "--port",
		"--print-uri", "--readonly", "--read-only", "--run", "--selinux-label", "--single", "--stdin",
		"--swap", "--threads", "--timeout", "--tls", "--tls-certificates", "--tls-psk", "--tls-verify-peer",
		"--unix", "--user", "--verbose", "--version", "--vsock"}, " ")
	for _, o := range options() {
		for _, l := range o.long {
			if !strings.Contains(src+" ", "--"+l+" ") {
				t.Errorf("option --%s has no case in TestOptions", l)
			}
		}
	}
}

func TestOperandsAndPermutation(t *testing.T) {
	_, operands, err := parseCommandLine([]string{"-f", "memory", "1G", "-r", "allocator=malloc", "--run", "true", "-"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"memory", "1G", "allocator=malloc", "-"}; !slices.Equal(operands, want) {
		t.Errorf("operands %q, want %q", operands, want)
	}
	c, operands, err := parseCommandLine([]string{"memory", "--", "-r", "--x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"memory", "-r", "--x"}; !slices.Equal(operands, want) || c.opts.ReadOnly {
		t.Errorf("after --: operands %q, readonly %v; want %q and no option", operands, c.opts.ReadOnly, want)
	}
}

func TestOptionErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--bogus":            "unrecognized option '--bogus'",
		"-x":                 "invalid option -- 'x'",
		"-p":                 "option requires an argument -- 'p'",
		"--port":             "option '--port' requires an argument",
		"--ipv":              "option '--ipv' is ambiguous; possibilities: '--ipv4-only' '--ipv6-only'",
		"--verbose=1":        "option '--verbose' doesn't allow an argument",
		"-t x":               "-t: could not parse number \"x\"",
		"-t1r":               "-t: could not parse number \"1r\": trailing garbage \"r\"", // -t takes the rest
		"--threads=-1":       "--threads: number \"-1\" is negative",
		"--tls=maybe":        `--tls: "maybe" is not off, on or require`,
		"-D memory":          `-D: "memory" is not NAME.FLAG=N`,
		"-D memory.x=y":      `-D: memory.x: could not parse number "y"`,
		"--timeout=0":        `--timeout: "0" is not a positive number of seconds`,
		"--mask-handshake=x": `--mask-handshake: could not parse number "x"`,
		"--log=":             "--log: empty log destination (stderr, syslog, null or a file name)",
		"-p=":                "", // -p takes "=" as its argument, as getopt does
	} {
		_, _, err := parseCommandLine(strings.Fields(args))
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", args, err)
			}
			continue
		}
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", args, err, want)
		}
	}
}

func TestLookupLongExactBeatsPrefix(t *testing.T) {
	// --tls is a name and a prefix of --tls-psk and others: the exact name wins.
	spec, err := lookupLong(options(), "tls")
	if err != nil || spec.long[0] != "tls" {
		t.Fatalf("lookupLong(tls) = %v, %v", spec, err)
	}
}
