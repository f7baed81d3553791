package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// DefaultPort is the TCP port NBD servers listen on unless told otherwise (IANA's nbd).
const DefaultPort = 10809

// ListenTCP listens on TCP port (a number or a service name) as nbdkit does with -p,
// -i, -4 and -6, and returns one listener per address.
//
// network is "tcp" for both IPv4 and IPv6, "tcp4" or "tcp6" for one of them (-4, -6).
// An empty host means every interface: then "tcp" opens two listeners, one on 0.0.0.0
// and one on [::] restricted to IPv6, as nbdkit does, so that each family can be
// reached even where the system does not map IPv4 into IPv6; a family the system lacks
// is skipped as long as the other works. A host name is resolved and every address of
// the asked-for families is listened on.
func ListenTCP(ctx context.Context, network, host, port string) ([]net.Listener, error) {
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	var addrs []string
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("listen: network %q is not tcp, tcp4 or tcp6", network)
	}
	if host == "" {
		if network != "tcp6" {
			addrs = append(addrs, "0.0.0.0")
		}
		if network != "tcp4" {
			addrs = append(addrs, "::")
		}
	} else {
		ips, err := resolve(ctx, network, host)
		if err != nil {
			return nil, err
		}
		addrs = ips
	}

	var lc net.ListenConfig
	var listeners []net.Listener
	var skipped []error
	for _, addr := range addrs {
		// Name the family explicitly: Go then sets IPV6_V6ONLY on the [::] listener,
		// which is what lets 0.0.0.0 be listened on separately.
		family := "tcp4"
		if ip := net.ParseIP(addr); ip.To4() == nil {
			family = "tcp6"
		}
		ln, err := lc.Listen(ctx, family, net.JoinHostPort(addr, port))
		if err != nil {
			if host == "" && familyUnavailable(err) {
				skipped = append(skipped, err)
				continue
			}
			closeAll(listeners)
			return nil, fmt.Errorf("listen: %w", err)
		}
		listeners = append(listeners, ln)
	}
	if len(listeners) == 0 {
		return nil, fmt.Errorf("listen: no address family is available: %w", errors.Join(skipped...))
	}
	return listeners, nil
}

// resolve returns the addresses of host in the families network allows.
func resolve(ctx context.Context, network, host string) ([]string, error) {
	ipNetwork := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNetwork, host)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	addrs := make([]string, 0, len(ips))
	seen := make(map[string]bool)
	for _, ip := range ips {
		s := ip.Unmap().String()
		if !seen[s] {
			seen[s] = true
			addrs = append(addrs, s)
		}
	}
	return addrs, nil
}

// familyUnavailable reports whether err says that the system lacks an address family
// (a kernel without IPv6, say), which is no reason to fail when the other family works.
func familyUnavailable(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}

func closeAll(listeners []net.Listener) {
	for _, ln := range listeners {
		ln.Close()
	}
}

// ListenUnix listens on a Unix domain socket at path (nbdkit -U PATH). As with nbdkit,
// an existing file at path is an error ("address already in use"), never removed; the
// socket is removed when the listener is closed.
func ListenUnix(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

// ListenTempUnix listens on a Unix domain socket in a new private directory (nbdkit
// -U -), and returns the listener and the socket's path. Closing the listener removes
// the socket and the directory.
func ListenTempUnix() (net.Listener, string, error) {
	dir, err := os.MkdirTemp("", "gonbd")
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	path := filepath.Join(dir, "socket")
	ln, err := ListenUnix(path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return tempDirListener{ln, dir}, path, nil
}

// tempDirListener removes its directory once the listener (and so the socket) is
// closed.
type tempDirListener struct {
	net.Listener
	dir string
}

func (l tempDirListener) Close() error {
	err := l.Listener.Close()
	if rmErr := os.RemoveAll(l.dir); rmErr != nil && err == nil {
		err = fmt.Errorf("remove socket directory: %w", rmErr)
	}
	return err
}

// StdioConn returns the single connection of nbdkit -s: the client speaks on in
// (standard input) and listens on out (standard output). When in is a socket, as
// inetd and libnbd's [ CMD ] syntax give, the connection is that socket; otherwise
// reads come from in and writes go to out, as through a pair of pipes. Closing the
// connection closes in and out.
func StdioConn(in, out *os.File) (net.Conn, error) {
	if c, err := net.FileConn(in); err == nil {
		// FileConn made its own copy of the descriptor, so ours serve no more; out is
		// the same socket or unused. Closing them now lets the client see the end of
		// the connection as soon as the copy is closed.
		in.Close()
		out.Close()
		return c, nil
	}
	in, out = pollable(in), pollable(out)
	return &fileConn{r: in, w: out, local: stdioAddr("stdout"), remote: stdioAddr("stdin")}, nil
}

// stdioAddr names the ends of a standard input/output connection.
type stdioAddr string

func (a stdioAddr) Network() string { return "stdio" }
func (a stdioAddr) String() string  { return string(a) }

// fileConn is a net.Conn over files: a pair of pipes, or a socket of a family the net
// package cannot wrap (vsock). Deadlines work when the files are pollable (see
// [pollable]); otherwise they return [os.ErrNoDeadline].
type fileConn struct {
	r, w          *os.File
	local, remote net.Addr
}

func (c *fileConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *fileConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *fileConn) LocalAddr() net.Addr         { return c.local }
func (c *fileConn) RemoteAddr() net.Addr        { return c.remote }

func (c *fileConn) Close() error {
	err := c.r.Close()
	if c.w != c.r {
		if werr := c.w.Close(); err == nil {
			err = werr
		}
	}
	return err
}

func (c *fileConn) SetDeadline(t time.Time) error {
	if err := c.r.SetReadDeadline(t); err != nil {
		return err
	}
	return c.w.SetWriteDeadline(t)
}

func (c *fileConn) SetReadDeadline(t time.Time) error  { return c.r.SetReadDeadline(t) }
func (c *fileConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }

// VsockPortAny asks [ListenVsock] for a port the kernel chooses.
const VsockPortAny = 0xffffffff

// VsockAddr is the address of an AF_VSOCK socket: a context ID (the machine; 2 is the
// host, 1 this machine's loopback) and a port.
type VsockAddr struct {
	CID, Port uint32
}

func (a VsockAddr) Network() string { return "vsock" }
func (a VsockAddr) String() string  { return fmt.Sprintf("%d:%d", a.CID, a.Port) }
