package nbd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// optionsFromParams reads the plugin's parameters, with nbdkit's names and syntax.
// Contradictions between them are New's to find, except those that only parameters
// can have.
func optionsFromParams(p *server.Params) (Options, error) {
	opts := Options{Logger: p.Logger}
	if cid, ok := p.Lookup("vsock"); ok {
		return opts, fmt.Errorf("vsock=%s: %w", cid, errVsock)
	}
	if _, ok := p.Lookup("tls-psk"); ok {
		return opts, errPSK
	}
	if _, ok := p.Lookup("tls-username"); ok {
		return opts, errPSK
	}
	opts.URI = p.String("uri", "")
	opts.Socket = p.String("socket", "")
	opts.Hostname = p.String("hostname", "")
	opts.Port = p.String("port", "")
	opts.Export = p.String("export", "")

	if command, ok := p.Lookup("command"); ok {
		opts.Command = append([]string{command}, p.All("arg")...)
	} else if args := p.All("arg"); args != nil {
		return opts, fmt.Errorf("arg=%s is only meaningful with command=", args[0])
	}

	var err error
	if opts.DynamicExport, err = p.Bool("dynamic-export", false); err != nil {
		return opts, err
	}
	retry, err := p.Uint32("retry", 0)
	if err != nil {
		return opts, err
	}
	opts.Retry = int(retry)
	if opts.Shared, err = p.Bool("shared", false); err != nil {
		return opts, err
	}
	if value, ok := p.Lookup("tls"); ok {
		if opts.TLS, err = ParseTLSMode(value); err != nil {
			return opts, fmt.Errorf("tls=%s: %w", value, err)
		}
	}
	opts.TLSCertificates = p.String("tls-certificates", "")
	verify, err := p.Bool("tls-verify", true)
	if err != nil {
		return opts, err
	}
	opts.TLSNoVerify = !verify

	if value, ok := p.Lookup("socket-fd"); ok {
		if opts.Conn, err = socketFromFD(value); err != nil {
			return opts, err
		}
	}
	if !opts.Shared && (opts.Conn != nil || opts.Command != nil) {
		if _, ok := p.Lookup("shared"); ok {
			p.Logger.Warn("shared=false is ignored: command= and socket-fd= connect once, so every client shares the connection")
		}
	}
	return opts, nil
}

// socketFromFD returns a connection on the inherited socket descriptor fd.
func socketFromFD(value string) (net.Conn, error) {
	fd, err := server.ParseInt(value, 32)
	switch {
	case err != nil:
		return nil, fmt.Errorf("socket-fd=%s: %w", value, err)
	case fd < 0:
		return nil, fmt.Errorf("socket-fd=%s: a file descriptor cannot be negative", value)
	}
	f := os.NewFile(uintptr(fd), "socket-fd="+value)
	if f == nil {
		return nil, fmt.Errorf("socket-fd=%s: not a valid file descriptor", value)
	}
	// FileConn works on a copy of the descriptor; the original is closed so that it
	// does not leak into child processes.
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		// The system's reason (not a socket, a bad descriptor) says it all.
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		return nil, fmt.Errorf("socket-fd=%s: not a connected socket: %w", value, err)
	}
	return c, nil
}
