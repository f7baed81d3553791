package nbd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gonbd/gonbd/server"
)

// Options say which NBD server the plugin forwards to and how. Exactly one of URI,
// Socket, Hostname, Conn and Command names the server; the zero value of every other
// field is its default.
type Options struct {
	// URI names the server and the export as an NBD URI: nbd://HOST[:PORT]/EXPORT,
	// nbd+unix:///EXPORT?socket=PATH, or their TLS forms nbds:// and nbds+unix://,
	// which require TLS. The URI's tls-certificates and tls-verify-peer query
	// parameters stand in for TLSCertificates and TLSNoVerify when those are unset.
	URI string
	// Socket is the path of the server's Unix domain socket.
	Socket string
	// Hostname and Port name a server on TCP. Port is a number or a service name;
	// empty means 10809.
	Hostname, Port string
	// Conn is an established connection to the server, such as an inherited socket
	// (socket-fd=). It can carry one NBD session only, so it implies Shared. The
	// plugin owns it from New on.
	Conn net.Conn
	// Command runs the server as a child process: Command[0] is the program (looked
	// up in PATH), the rest its arguments. The plugin gives it a listening Unix socket
	// by systemd's socket activation protocol (LISTEN_FDS=1, descriptor 3), as
	// qemu-nbd, nbdkit and gonbd understand, and stops it at Cleanup. It implies
	// Shared.
	Command []string
	// Stderr receives the command's standard output and standard error. Default:
	// os.Stderr. (Its standard output never goes to ours, which may be a client's NBD
	// stream under gonbd -s.)
	Stderr io.Writer

	// Export is the name of the export to open on the server, default "". With URI,
	// the URI's export is opened instead; Export is then only the name the plugin
	// gives its default export, as in nbdkit.
	Export string
	// DynamicExport opens, for each client, the export the client asked for, and lists
	// the server's exports as this plugin's. It excludes Export and Shared.
	DynamicExport bool

	// Shared makes every client connection use one connection to the server, opened
	// at GetReady, instead of one each, opened when the client connects.
	Shared bool
	// Retry is how many more times a connection to the server is tried after the
	// first attempt fails, RetryInterval apart. Default 0.
	Retry int
	// RetryInterval is the pause between attempts. Default one second, as nbdkit's.
	RetryInterval time.Duration

	// TLS says whether to encrypt the connection to the server. Default TLSOff, or
	// TLSOn when TLSConfig, TLSCertificates or TLSNoVerify is set; an nbds URI always
	// means TLSRequire.
	TLS TLSMode
	// TLSConfig is the client's TLS configuration. Default: built from
	// TLSCertificates and TLSNoVerify. When it leaves ServerName empty, the host
	// name of a TCP server is used; a server on a Unix socket has its certificate
	// chain verified without a name.
	TLSConfig *tls.Config
	// TLSCertificates is a directory of X.509 files, laid out as nbdkit, libnbd and
	// qemu expect: ca-cert.pem, the authority that signed the server's certificate
	// (default: the system's authorities), and client-cert.pem with client-key.pem,
	// the certificate to present (default: none).
	TLSCertificates string
	// TLSNoVerify skips the verification of the server's certificate (tls-verify=false),
	// which leaves the connection open to a man in the middle.
	TLSNoVerify bool

	// Logger receives the plugin's logs. Default: discard them.
	Logger *slog.Logger
}

// TLSMode says whether the connection to the server is encrypted.
type TLSMode int

const (
	// TLSDefault is TLSOff, or TLSOn when another TLS field is set.
	TLSDefault TLSMode = iota
	// TLSOff never asks the server for TLS.
	TLSOff
	// TLSOn asks for TLS and carries on unencrypted if the server does not offer it.
	TLSOn
	// TLSRequire asks for TLS and fails if the server does not offer it.
	TLSRequire
)

func (m TLSMode) String() string {
	switch m {
	case TLSDefault:
		return "default"
	case TLSOff:
		return "off"
	case TLSOn:
		return "on"
	case TLSRequire:
		return "require"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// ParseTLSMode parses the values of nbdkit's tls= parameter: require (or its synonyms
// required and force), or a boolean (on, off, true, no...).
func ParseTLSMode(s string) (TLSMode, error) {
	switch s {
	case "require", "required", "force":
		return TLSRequire, nil
	}
	on, err := server.ParseBool(s)
	if err != nil {
		return TLSOff, fmt.Errorf("could not parse TLS mode %q (expected off, on or require)", s)
	}
	if on {
		return TLSOn, nil
	}
	return TLSOff, nil
}

// defaultRetryInterval is nbdkit's pause between connection attempts.
const defaultRetryInterval = time.Second

// withDefaults returns opts with every default filled in, or an error saying which
// fields contradict each other. It is the one place that interprets zero values.
func (opts Options) withDefaults() (Options, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = defaultRetryInterval
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if err := opts.checkServer(); err != nil {
		return opts, err
	}
	if opts.Retry < 0 {
		return opts, fmt.Errorf("retry=%d: the number of retries cannot be negative", opts.Retry)
	}
	if opts.Conn != nil || len(opts.Command) > 0 {
		// Neither can be connected to twice, as nbdkit says by forcing shared=true.
		opts.Shared = true
	}
	if opts.DynamicExport {
		switch {
		case opts.Export != "":
			return opts, fmt.Errorf("dynamic-export=true opens the export each client asks for: it cannot be combined with export=%s", opts.Export)
		case opts.Shared:
			return opts, errors.New("dynamic-export=true needs a connection to the server per client: it cannot be combined with shared=true, command= or socket-fd=")
		}
	}
	if opts.TLS < TLSDefault || opts.TLS > TLSRequire {
		return opts, fmt.Errorf("unknown TLS mode %v", opts.TLS)
	}
	return opts, nil
}

// checkServer checks that exactly one field names the server.
func (opts *Options) checkServer() error {
	var given []string
	for _, f := range []struct {
		param string
		set   bool
	}{
		{"uri=", opts.URI != ""},
		{"socket=", opts.Socket != ""},
		{"hostname=", opts.Hostname != ""},
		{"socket-fd=", opts.Conn != nil},
		{"command=", len(opts.Command) > 0},
	} {
		if f.set {
			given = append(given, f.param)
		}
	}
	switch {
	case len(given) == 0:
		return errors.New("no NBD server to forward to: give one of uri=, socket=, hostname=, socket-fd= and command=")
	case len(given) > 1:
		list := strings.Join(given[:len(given)-1], ", ") + " and " + given[len(given)-1]
		return fmt.Errorf("%s each name the NBD server to forward to: give only one", list)
	case opts.Port != "" && opts.Hostname == "":
		return fmt.Errorf("port=%s is only meaningful with hostname=", opts.Port)
	case len(opts.Command) > 0 && opts.Command[0] == "":
		return errors.New("command= is empty: name the program that serves NBD")
	}
	return nil
}
