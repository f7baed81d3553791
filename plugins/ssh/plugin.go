package ssh

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
	"golang.org/x/crypto/ssh"
)

// Plugin serves a file of an SSH server, read and written over SFTP. Each client
// connection has an SSH connection of its own, on which its requests run in parallel.
type Plugin struct {
	opts    Options
	log     *slog.Logger
	address string // host:port
	signers []ssh.Signer
	// hostKeys checks host keys unless Options says otherwise.
	hostKeys *hostKeys

	// createMu serialises Create's work, which the first connection does.
	createMu sync.Mutex
	created  bool
}

// New checks opts, reads the identity files and known hosts files, and returns the
// plugin. It does not connect: GetReady does, to check the server, the login and the
// file before clients come.
func New(opts Options) (*Plugin, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Plugin{opts: opts, log: opts.Logger, address: net.JoinHostPort(opts.Host, opts.Port)}
	if p.signers, err = loadIdentities(opts.Identities, opts.Password, p.log); err != nil {
		return nil, err
	}
	p.signers = append(p.signers, opts.Signers...)
	switch {
	case opts.InsecureIgnoreHostKey:
		p.log.Warn("verify-remote-host=false: the server's identity is not checked, so a man in the middle could read and change the disk")
	case opts.HostKeyCallback == nil:
		files := opts.KnownHosts
		if files == nil {
			files = defaultKnownHosts()
		}
		if p.hostKeys, err = newHostKeys(files); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// GetReady connects to the server once, so that an unknown host key, a refused login
// or a missing file stop gonbd before it serves rather than fail every client.
func (p *Plugin) GetReady(ctx context.Context) error {
	s, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if p.opts.Create {
		return nil // the first client creates the file
	}
	info, err := s.sftp.Stat(p.opts.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return server.Errorf(syscall.ENOENT, "%s on %s: %w (create=true creates it)", p.opts.Path, p.address, syscall.ENOENT)
		}
		return remoteError(s, err, "%s on %s", p.opts.Path, p.address)
	}
	if info.IsDir() {
		return server.Errorf(syscall.EISDIR, "%s on %s: %w, not a disk image", p.opts.Path, p.address, syscall.EISDIR)
	}
	return nil
}

// Open connects to the server for the client and opens the file, read-only if the
// connection is. The first connection creates the file when Options.Create says so.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	s, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	h, err := p.openFile(s, req.ReadOnly)
	if err != nil {
		s.Close()
		return nil, err
	}
	return h, nil
}

// openFile opens the file on s and returns the handle that serves it.
func (p *Plugin) openFile(s *session, readOnly bool) (*handle, error) {
	if p.opts.Create {
		if err := p.create(s); err != nil {
			return nil, err
		}
	}
	flags, how := os.O_RDWR, "read-write"
	if readOnly {
		flags, how = os.O_RDONLY, "read-only"
	}
	f, err := s.sftp.OpenFile(p.opts.Path, flags)
	if err != nil {
		err = remoteError(s, err, "opening %s on %s %s", p.opts.Path, p.address, how)
		if !readOnly && errors.Is(err, syscall.EACCES) {
			err = server.Errorf(syscall.EACCES, "%w (serve it read-only with -r)", err)
		}
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, remoteError(s, err, "finding the size of %s on %s", p.opts.Path, p.address)
	}
	if info.IsDir() {
		f.Close()
		return nil, server.Errorf(syscall.EISDIR, "%s on %s: %w, not a disk image", p.opts.Path, p.address, syscall.EISDIR)
	}
	return &handle{s: s, f: f, size: info.Size(), canFlush: hasFsync(s.sftp)}, nil
}

// create makes the file, or truncates it, the first time it is called: nbdkit creates
// the file when the first client connects, so that later clients see what earlier ones
// wrote.
func (p *Plugin) create(s *session) error {
	p.createMu.Lock()
	defer p.createMu.Unlock()
	if p.created {
		return nil
	}
	path := p.opts.Path
	_, statErr := s.sftp.Lstat(path)
	isNew := errors.Is(statErr, fs.ErrNotExist)
	f, err := s.sftp.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return remoteError(s, err, "creating %s on %s", path, p.address)
	}
	defer f.Close()
	// pkg/sftp cannot send the mode with the open request, so a new file gets it
	// right after; a file that existed keeps its own, as with open(2).
	if isNew {
		if err := f.Chmod(p.opts.CreateMode); err != nil {
			return remoteError(s, err, "setting the mode of %s on %s to %#o", path, p.address, uint32(p.opts.CreateMode))
		}
	}
	if err := f.Truncate(p.opts.CreateSize); err != nil {
		return remoteError(s, err, "setting the size of %s on %s to %d", path, p.address, p.opts.CreateSize)
	}
	if err := f.Close(); err != nil {
		return remoteError(s, err, "creating %s on %s", path, p.address)
	}
	p.log.Info("created the remote file", "path", path, "size", p.opts.CreateSize, "mode", p.opts.CreateMode)
	p.created = true
	return nil
}
