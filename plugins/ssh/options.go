package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options say which remote file the plugin serves and how it reaches it. Host and Path
// are required; the zero value of every other field is its default.
type Options struct {
	// Host is the name or address of the SSH server.
	Host string
	// Port is the server's port, a number or a service name. Default "22".
	Port string
	// User is the name to log in as. Default: the local user's name.
	User string
	// Path is the file to serve. A relative path is relative to the remote user's
	// home directory (the SFTP server resolves it).
	Path string

	// Password is tried with the password method when the server offers it, and
	// decrypts the encrypted keys among Identities. Empty means none.
	Password string
	// Identities are private key files to authenticate with, tried in order after
	// the keys of the SSH agent and before the default files (~/.ssh/id_ed25519,
	// id_ecdsa, id_rsa and id_dsa, those that exist and need no passphrase). They
	// are read by New.
	Identities []string
	// Signers are more keys to authenticate with, tried after the files, for
	// programs that hold keys in memory.
	Signers []ssh.Signer
	// AgentSocket is the Unix socket of the SSH agent whose keys are tried first.
	// Default: $SSH_AUTH_SOCK; NoAgent disables the agent.
	AgentSocket string
	// NoAgent ignores the SSH agent.
	NoAgent bool

	// KnownHosts are the OpenSSH known_hosts files that the server's host key is
	// checked against. Default: ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts,
	// those that exist. A file named here must exist.
	KnownHosts []string
	// HostKeyCallback, when set, checks the host key instead of KnownHosts.
	HostKeyCallback ssh.HostKeyCallback
	// InsecureIgnoreHostKey accepts any host key (verify-remote-host=false), which
	// lets a man in the middle read and change everything the plugin sends.
	InsecureIgnoreHostKey bool

	// Create creates the remote file, or truncates it if it exists, when the first
	// client connects, and sets its size to CreateSize.
	Create bool
	// CreateSize is the size of the file Create makes. Required with Create.
	CreateSize int64
	// CreateMode holds the permission bits of a file Create makes. Default 0600.
	CreateMode fs.FileMode

	// Timeout bounds each connection to the server: the TCP connection, the SSH
	// handshake, authentication and the start of the SFTP session. Default: no
	// limit but the system's TCP connection timeout.
	Timeout time.Duration

	// Logger receives the plugin's logs. Default: discard them.
	Logger *slog.Logger
}

// defaultPort is the SSH port.
const defaultPort = "22"

// defaultCreateMode is nbdkit's: readable and writable by the remote user alone.
const defaultCreateMode fs.FileMode = 0o600

// withDefaults returns opts with every default filled in, or an error saying what is
// wrong. It is the one place that interprets zero values.
func (opts Options) withDefaults() (Options, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Host == "":
		return opts, errors.New("no host: give the SSH server's name or address (host=)")
	case opts.Path == "":
		return opts, errors.New("no path: give the remote file to serve (path=)")
	}
	if opts.Port == "" {
		opts.Port = defaultPort
	}
	port, err := net.LookupPort("tcp", opts.Port)
	if err != nil {
		return opts, fmt.Errorf("port=%s: not a port number or a known service name", opts.Port)
	}
	opts.Port = strconv.Itoa(port)
	if opts.User == "" {
		if opts.User, err = localUserName(); err != nil {
			return opts, fmt.Errorf("no user given and %w: give the remote user name (user=)", err)
		}
	}
	switch {
	case opts.NoAgent:
		opts.AgentSocket = ""
	case opts.AgentSocket == "":
		opts.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	if opts.Create {
		if opts.CreateSize < 0 {
			return opts, fmt.Errorf("create-size=%d: a size cannot be negative", opts.CreateSize)
		}
		if opts.CreateMode == 0 {
			opts.CreateMode = defaultCreateMode
		}
		if opts.CreateMode&^fs.ModePerm != 0 {
			return opts, fmt.Errorf("create-mode=%#o: only permission bits (at most 0777) can be set", uint32(opts.CreateMode))
		}
	}
	if opts.Timeout < 0 {
		return opts, fmt.Errorf("timeout=%v: a timeout cannot be negative", opts.Timeout)
	}
	return opts, nil
}

// localUserName returns the name of the user running the program.
func localUserName() (string, error) {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	if name := os.Getenv("USER"); name != "" {
		return name, nil
	}
	return "", errors.New("the local user name is unknown")
}
