package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonbd/gonbd/server"
)

// optionsFromParams reads the plugin's parameters, with nbdkit's names and syntax.
func optionsFromParams(p *server.Params) (Options, error) {
	opts := Options{Logger: p.Logger}
	var err error
	if opts.Host, err = p.Required("host"); err != nil {
		return opts, fmt.Errorf("%w: give the SSH server's name or address", err)
	}
	if opts.Path, err = p.Required("path"); err != nil {
		return opts, fmt.Errorf("%w: name the remote file, as in gonbd ssh host=%s disk.img", err, opts.Host)
	}
	opts.Port = p.String("port", "")
	opts.User = p.String("user", "")
	if value, ok := p.Lookup("password"); ok {
		if opts.Password, err = readPassword(value); err != nil {
			return opts, err
		}
	}

	compression, err := p.Bool("compression", false)
	if err != nil {
		return opts, err
	}
	if compression {
		return opts, errors.New("compression=true: not supported: the SSH library gonbd uses (golang.org/x/crypto/ssh) has no compression")
	}
	if config, ok := p.Lookup("config"); ok && config != "" {
		return opts, fmt.Errorf("config=%s: reading ssh_config files is not supported: give host=, port=, user=, identity= and known-hosts= instead (config= with no value, which reads none, is accepted)", config)
	}

	if opts.Create, err = p.Bool("create", false); err != nil {
		return opts, err
	}
	if err := createParams(p, &opts); err != nil {
		return opts, err
	}

	verify, err := p.Bool("verify-remote-host", true)
	if err != nil {
		return opts, err
	}
	opts.InsecureIgnoreHostKey = !verify
	if seconds, ok := p.Lookup("timeout"); ok {
		n, err := server.ParseUint(seconds, 32)
		if err != nil {
			return opts, fmt.Errorf("timeout=%s: %w (give whole seconds)", seconds, err)
		}
		opts.Timeout = time.Duration(n) * time.Second
	}

	// The file parameters may use libssh's %-sequences, which need the names above.
	expander := newPathExpander(&opts)
	for _, file := range p.All("identity") {
		path, err := expander.expand("identity", file)
		if err != nil {
			return opts, err
		}
		opts.Identities = append(opts.Identities, path)
	}
	for _, file := range p.All("known-hosts") {
		path, err := expander.expand("known-hosts", file)
		if err != nil {
			return opts, err
		}
		opts.KnownHosts = append(opts.KnownHosts, path)
	}
	return opts, nil
}

// createParams reads create-size= and create-mode=, which need create=true.
func createParams(p *server.Params, opts *Options) error {
	size, hasSize := p.Lookup("create-size")
	mode, hasMode := p.Lookup("create-mode")
	if !opts.Create {
		for _, given := range []struct {
			key string
			ok  bool
		}{{"create-size", hasSize}, {"create-mode", hasMode}} {
			if given.ok {
				p.Logger.Warn(given.key + "= is ignored without create=true")
			}
		}
		return nil
	}
	if !hasSize {
		return errors.New("create=true needs create-size=: give the size of the file to create, as in create-size=10G")
	}
	var err error
	if opts.CreateSize, err = server.ParseSize(size); err != nil {
		return fmt.Errorf("create-size=%s: %w", size, err)
	}
	if hasMode {
		// C's syntax, as nbdkit parses it: 0644 is octal, but 644 decimal.
		bits, err := server.ParseUint(mode, 32)
		if err != nil {
			return fmt.Errorf("create-mode=%s: %w", mode, err)
		}
		if bits == 0 || bits&^uint64(fs.ModePerm) != 0 {
			return fmt.Errorf("create-mode=%s: not permission bits from 01 to 0777 (write the mode in octal with a leading 0, as in 0644)", mode)
		}
		opts.CreateMode = fs.FileMode(bits)
	}
	return nil
}

// pathExpander expands libssh's %-sequences and a leading ~ in file parameters.
type pathExpander struct {
	sshDir, localUser, localHost string
	host, remoteUser, port       string
}

func newPathExpander(opts *Options) *pathExpander {
	e := &pathExpander{host: opts.Host, remoteUser: opts.User, port: opts.Port}
	if home, err := os.UserHomeDir(); err == nil {
		e.sshDir = filepath.Join(home, ".ssh")
	}
	e.localUser, _ = localUserName()
	if e.remoteUser == "" {
		e.remoteUser = e.localUser
	}
	if e.port == "" {
		e.port = defaultPort
	}
	e.localHost, _ = os.Hostname()
	return e
}

// expand returns the file a parameter names, with its %-sequences expanded and made
// absolute.
func (e *pathExpander) expand(key, value string) (string, error) {
	var b strings.Builder
	rest := value
	if rest == "~" || strings.HasPrefix(rest, "~/") {
		if e.sshDir == "" {
			return "", fmt.Errorf("%s=%s: the home directory is unknown", key, value)
		}
		b.WriteString(filepath.Dir(e.sshDir))
		rest = rest[1:]
	}
	for {
		i := strings.IndexByte(rest, '%')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		if i+1 == len(rest) {
			return "", fmt.Errorf("%s=%s: a %% ends the name: write %%%% for a %% sign", key, value)
		}
		var expansion string
		switch c := rest[i+1]; c {
		case 'd':
			expansion = e.sshDir
		case 'u':
			expansion = e.localUser
		case 'l':
			expansion = e.localHost
		case 'h':
			expansion = e.host
		case 'r':
			expansion = e.remoteUser
		case 'p':
			expansion = e.port
		case '%':
			expansion = "%"
		default:
			return "", fmt.Errorf("%s=%s: unknown sequence %%%c (known: %%d, %%u, %%l, %%h, %%r, %%p and %%%%)", key, value, c)
		}
		if expansion == "" {
			return "", fmt.Errorf("%s=%s: the value of %%%c is unknown", key, value, rest[i+1])
		}
		b.WriteString(expansion)
		rest = rest[i+2:]
	}
	path, err := filepath.Abs(b.String())
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w", key, value, err)
	}
	return path, nil
}
