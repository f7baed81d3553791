package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// endpoint is where the server listens, as --run's environment and --print-uri
// describe it to clients.
type endpoint struct {
	listeners []net.Listener
	// uri is the NBD URI of the export (empty with socket activation, which may pass
	// any kind of socket); port and unixSocket are $port and $unixsocket.
	uri, port, unixSocket string
}

func (e endpoint) close() {
	for _, ln := range e.listeners {
		ln.Close()
	}
}

// activationConflicts says which options socket activation cannot be combined with,
// because the sockets come from outside (as nbdkit refuses them).
func activationConflicts(c *config) error {
	if c.ipAddr != "" || c.port != "" || c.runSet || c.single || c.unixSocket != "" || c.vsock {
		return errors.New("socket activation (LISTEN_FDS) cannot be used with -i, -p, --run, -s, -U or --vsock")
	}
	return nil
}

// listen opens the listeners c asks for: the activated sockets, a vsock port, a Unix
// socket, or TCP ports (the default: port 10809 on every interface).
func listen(ctx context.Context, c *config, activated bool) (endpoint, error) {
	switch {
	case activated:
		lns, err := server.ActivatedListeners()
		if err == nil && len(lns) == 0 {
			err = errors.New("socket activation: LISTEN_FDS=0 passes no socket")
		}
		return endpoint{listeners: lns}, err
	case c.vsock:
		port := c.port
		if port == "" {
			port = strconv.Itoa(server.DefaultPort)
		}
		n, err := server.ParseUint(port, 32)
		if err != nil {
			return endpoint{}, fmt.Errorf("--vsock -p %s: %w", port, err)
		}
		ln, err := server.ListenVsock(uint32(n))
		if err != nil {
			return endpoint{}, err
		}
		// Clients on this machine reach it through the loopback context ID 1.
		return endpoint{listeners: []net.Listener{ln}, uri: nbdURI("nbd+vsock", "1:"+port, c.exportName, "")}, nil
	case c.unixSocket == "-":
		ln, path, err := server.ListenTempUnix()
		if err != nil {
			return endpoint{}, err
		}
		return unixEndpoint(ln, path, c.exportName), nil
	case c.unixSocket != "":
		ln, err := server.ListenUnix(c.unixSocket)
		if err != nil {
			return endpoint{}, err
		}
		return unixEndpoint(ln, c.unixSocket, c.exportName), nil
	}
	lns, err := server.ListenTCP(ctx, c.family, c.ipAddr, c.port)
	if err != nil {
		return endpoint{}, err
	}
	// The port actually bound: -p may name a service or ask for any port (0).
	_, port, _ := net.SplitHostPort(lns[0].Addr().String())
	host := c.ipAddr
	if host == "" {
		host = "localhost"
	}
	return endpoint{
		listeners: lns,
		uri:       nbdURI("nbd", net.JoinHostPort(host, port), c.exportName, ""),
		port:      port,
	}, nil
}

func unixEndpoint(ln net.Listener, path, exportName string) endpoint {
	return endpoint{
		listeners:  []net.Listener{ln},
		uri:        nbdURI("nbd+unix", "", exportName, path),
		unixSocket: path,
	}
}

// nbdURI returns the NBD URI (see the NBD project's uri.md) of exportName on host, or
// on the Unix socket when socket is not empty. Like nbdkit, it leaves the path out
// for the default export "": nbd://localhost:10809, nbd+unix://?socket=/tmp/sock.
func nbdURI(scheme, host, exportName, socket string) string {
	uri := scheme + "://" + host
	if exportName != "" {
		uri += (&url.URL{Path: "/" + exportName}).EscapedPath()
	}
	if socket != "" {
		uri += "?socket=" + escapeQueryValue(socket)
	}
	return uri
}

// escapeQueryValue percent-encodes s for a URI query value, keeping the unreserved
// characters and '/', so that socket paths stay readable.
func escapeQueryValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
