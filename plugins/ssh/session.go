package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// A session is one SSH connection to the server with an SFTP session on it.
type session struct {
	ssh  *ssh.Client
	sftp *sftp.Client
	// done is closed when the SSH connection ends; err says why.
	done chan struct{}
	err  error
}

func newSession(client *ssh.Client, files *sftp.Client) *session {
	s := &session{ssh: client, sftp: files, done: make(chan struct{})}
	go func() {
		s.err = client.Wait()
		close(s.done)
	}()
	return s
}

// lost reports whether the SSH connection has ended.
func (s *session) lost() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits for the SSH connection to end and returns why it did.
func (s *session) wait() error {
	<-s.done
	if s.err == nil {
		return io.EOF
	}
	return s.err
}

// Close ends the SFTP session and the SSH connection.
func (s *session) Close() error {
	err := s.sftp.Close()
	if cerr := s.ssh.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// connect opens a session: it connects to the server, checks its host key, logs in
// and starts SFTP, within Options.Timeout and until ctx ends. Its errors name the
// server; clients that get them see EIO.
func (p *Plugin) connect(ctx context.Context) (*session, error) {
	if p.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.Timeout)
		defer cancel()
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", p.address)
	if err != nil {
		return nil, p.connectError(ctx, fmt.Errorf("connecting to %s: %w", p.address, err))
	}
	// Neither the handshake nor pkg/sftp take a context: a deadline on the socket
	// bounds them, and closing it stops them when ctx ends first.
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	s, err := p.start(conn)
	if !stop() && err == nil {
		s.Close()
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, p.connectError(ctx, err)
	}
	conn.SetDeadline(time.Time{})
	return s, nil
}

// connectError adds to err why the connection was cut short, if ctx says.
func (p *Plugin) connectError(ctx context.Context, err error) error {
	// The socket's deadline may strike a moment before ctx's timer.
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
	switch {
	case timedOut && p.opts.Timeout > 0:
		return fmt.Errorf("%w (timeout=%d: the server did not finish logging in within %v)", err, int64(p.opts.Timeout/time.Second), p.opts.Timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

// start runs the SSH handshake and starts SFTP on a new connection to the server.
func (p *Plugin) start(conn net.Conn) (*session, error) {
	// The host key error is kept to be returned as it is: the library's wrapping of
	// it ("ssh: handshake failed: ...") would only blur it. An error after the key
	// was accepted is about logging in.
	var hostKeyErr error
	hostKeyAccepted := false
	check := p.hostKeyCallback()
	config := &ssh.ClientConfig{
		User: p.opts.User,
		HostKeyCallback: func(address string, remote net.Addr, key ssh.PublicKey) error {
			hostKeyErr = check(address, remote, key)
			hostKeyAccepted = hostKeyErr == nil
			return hostKeyErr
		},
	}
	if p.opts.HostKeyCallback == nil && !p.opts.InsecureIgnoreHostKey {
		config.HostKeyAlgorithms = p.hostKeys.algorithms(p.address, conn.RemoteAddr())
	}

	var tried authAttempts
	agentSigners, agentConn := agentKeys(p.opts.AgentSocket, p.log)
	if agentConn != nil {
		defer agentConn.Close() // only needed until authentication is over
	}
	signers := append(agentSigners[:len(agentSigners):len(agentSigners)], p.signers...)
	if len(signers) > 0 {
		config.Auth = append(config.Auth, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			tried.keys = len(signers)
			return signers, nil
		}))
	}
	if p.opts.Password != "" {
		config.Auth = append(config.Auth, ssh.PasswordCallback(func() (string, error) {
			tried.password = true
			return p.opts.Password, nil
		}))
	}

	c, chans, reqs, err := ssh.NewClientConn(conn, p.address, config)
	switch {
	case hostKeyErr != nil:
		return nil, hostKeyErr
	case err != nil && hostKeyAccepted:
		return nil, fmt.Errorf("logging in to %s as %s failed (%s): %w", p.address, p.opts.User, tried, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", p.address, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	files, packet, err := startSFTP(client, string(c.ServerVersion()))
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("starting SFTP on %s as %s: %w", p.address, p.opts.User, err)
	}
	p.log.Debug("connected", "server", p.address, "user", p.opts.User,
		"server_version", string(c.ServerVersion()), "sftp_packet", packet, "fsync", hasFsync(files))
	return newSession(client, files), nil
}

// SFTP packet sizes: the 32 KiB every server must accept, and the largest read and
// write OpenSSH's sftp-server takes since it has the limits@openssh.com extension (its
// messages hold at most 256 KiB, reads and writes 1 KiB less).
const (
	sftpPacket        = 32 << 10
	openSSHSFTPPacket = 255 << 10
)

// startSFTP starts an SFTP session on client, and returns it with the size of its
// packets. Requests larger than a packet go out as several packets in flight
// together, writes as reads. OpenSSH's sftp-server takes packets eight times the size
// every server must take, which saves round trips and per-packet work: it is
// recognised by its SSH version and an SFTP extension only it has, and other servers
// get the standard size. (Should a server return less than asked for all the same,
// handle.ReadAt asks for the rest.)
func startSFTP(client *ssh.Client, serverVersion string) (*sftp.Client, int, error) {
	if strings.HasPrefix(serverVersion, "SSH-2.0-OpenSSH_") {
		files, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true), sftp.MaxPacketUnchecked(openSSHSFTPPacket))
		if err != nil {
			return nil, 0, err
		}
		if _, ok := files.HasExtension("limits@openssh.com"); ok {
			return files, openSSHSFTPPacket, nil
		}
		files.Close() // an older sftp-server, or another program: start again
	}
	files, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true), sftp.MaxPacketChecked(sftpPacket))
	return files, sftpPacket, err
}

// hostKeyCallback returns what checks the host key: Options.HostKeyCallback, the
// known hosts files, or nothing at all (verify-remote-host=false).
func (p *Plugin) hostKeyCallback() ssh.HostKeyCallback {
	switch {
	case p.opts.InsecureIgnoreHostKey:
		return ssh.InsecureIgnoreHostKey()
	case p.opts.HostKeyCallback != nil:
		return p.opts.HostKeyCallback
	}
	return p.hostKeys.verify
}

// authAttempts records which authentication methods were tried, for the message when
// all of them fail.
type authAttempts struct {
	keys     int
	password bool
}

func (a authAttempts) String() string {
	keys := fmt.Sprintf("%d keys", a.keys)
	if a.keys == 1 {
		keys = "1 key"
	}
	switch {
	case a.keys > 0 && a.password:
		return "tried " + keys + " and the password"
	case a.keys > 0:
		return "tried " + keys + "; no password given"
	case a.password:
		return "tried the password; no keys in the SSH agent or identity files"
	}
	return "no keys in the SSH agent or identity files, and no password given"
}

// hasFsync reports whether the server can flush a file to stable storage.
func hasFsync(c *sftp.Client) bool {
	data, ok := c.HasExtension("fsync@openssh.com")
	return ok && data == "1"
}
