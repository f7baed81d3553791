package ssh

// An in-process SSH server with an SFTP server of in-memory files, built from
// golang.org/x/crypto/ssh and pkg/sftp's request server, for what a real sshd cannot
// be made to do on demand: refuse a write, drop the connection in the middle of a
// request, lack fsync, or accept a password.

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// fakeServer is an SSH server on a loopback port that serves SFTP from memory.
type fakeServer struct {
	Address string
	HostKey ssh.Signer
	// MoreHostKeys are host keys of other types the server also has.
	MoreHostKeys []ssh.Signer
	// ClientKey is a key the server accepts; Password a password it accepts.
	ClientKey ssh.Signer
	Password  string

	// OnRead, when set, is called before each read of a file. Set it, MaxRead,
	// Version and MoreHostKeys in startFakeServer's configure function.
	OnRead func(off int64)
	// MaxRead, when not 0, is the most a read request returns, as older OpenSSH
	// servers return at most 64 KiB.
	MaxRead int
	// Version is the SSH version the server announces, when not the library's.
	Version string
	// RefuseWriteOpens refuses to open files for writing with "permission denied";
	// RefuseWrites lets them be opened but refuses the writes.
	RefuseWriteOpens, RefuseWrites atomic.Bool

	mu    sync.Mutex
	files map[string]*fakeFile
	conns []net.Conn
	// Sessions counts the SFTP sessions started.
	Sessions int

	listener net.Listener
	wg       sync.WaitGroup
}

type fakeFile struct {
	data []byte
	mode fs.FileMode
}

// startFakeServer starts a fakeServer that stops when the test ends. configure, if
// not nil, sets its fields before it starts.
func startFakeServer(t testing.TB, configure func(*fakeServer)) *fakeServer {
	t.Helper()
	dir := t.TempDir()
	s := &fakeServer{
		HostKey:   writeKey(t, dir+"/host_key"),
		ClientKey: writeKey(t, dir+"/client_key"),
		Password:  "correct horse",
		files:     make(map[string]*fakeFile),
	}
	if configure != nil {
		configure(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.listener, s.Address = l, l.Addr().String()
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.stop)
	return s
}

// Put stores a file.
func (s *fakeServer) Put(name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = &fakeFile{data: slices.Clone(data), mode: 0o644}
}

// Get returns a copy of a file's contents and its mode, and whether it exists.
func (s *fakeServer) Get(name string) ([]byte, fs.FileMode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[name]
	if !ok {
		return nil, 0, false
	}
	return slices.Clone(f.data), f.mode, true
}

// DropConnections closes the server's side of every connection.
func (s *fakeServer) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *fakeServer) stop() {
	s.listener.Close()
	s.DropConnections()
	s.wg.Wait()
}

func (s *fakeServer) config() *ssh.ServerConfig {
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), s.ClientKey.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if string(password) == s.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	config.ServerVersion = s.Version
	config.AddHostKey(s.HostKey)
	for _, k := range s.MoreHostKeys {
		config.AddHostKey(k)
	}
	return config
}

func (s *fakeServer) serve() {
	defer s.wg.Done()
	config := s.config()
	for {
		c, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c, config)
		}()
	}
}

// serveConn runs one SSH connection: SFTP subsystems on session channels, nothing else.
func (s *fakeServer) serveConn(c net.Conn, config *ssh.ServerConfig) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	conn, chans, reqs, err := ssh.NewServerConn(c, config)
	if err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for newChan := range chans {
		if newChan.ChannelType() != "session" {
			newChan.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, requests, err := newChan.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveSession(ch, requests)
		}()
	}
}

func (s *fakeServer) serveSession(ch ssh.Channel, requests <-chan *ssh.Request) {
	defer ch.Close()
	for req := range requests {
		isSFTP := req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp"
		req.Reply(isSFTP, nil)
		if !isSFTP {
			continue
		}
		s.mu.Lock()
		s.Sessions++
		s.mu.Unlock()
		handler := fakeHandlers{s}
		server := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: handler, FilePut: handler, FileCmd: handler, FileList: handler})
		server.Serve()
		server.Close()
		return
	}
}

// fakeHandlers are the SFTP request handlers of a fakeServer's files.
type fakeHandlers struct{ s *fakeServer }

func (h fakeHandlers) lookup(name string) (*fakeFile, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	f, ok := h.s.files[path.Clean(name)]
	if !ok {
		return nil, os.ErrNotExist
	}
	return f, nil
}

func (h fakeHandlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f, err := h.lookup(r.Filepath)
	if err != nil {
		return nil, err
	}
	return fakeOpenFile{h.s, f}, nil
}

func (h fakeHandlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return h.OpenFile(r)
}

// OpenFile opens for writing, and for reading too (sftp.OpenFileWriter).
func (h fakeHandlers) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	if h.s.RefuseWriteOpens.Load() {
		return nil, sftp.ErrSSHFxPermissionDenied
	}
	flags := r.Pflags()
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	name := path.Clean(r.Filepath)
	f, ok := h.s.files[name]
	switch {
	case !ok && !flags.Creat:
		return nil, os.ErrNotExist
	case !ok:
		f = &fakeFile{mode: 0o666}
		h.s.files[name] = f
	case flags.Trunc:
		f.data = nil
	}
	return fakeOpenFile{h.s, f}, nil
}

// Filecmd implements setstat, which truncate and chmod send, and nothing else.
func (h fakeHandlers) Filecmd(r *sftp.Request) error {
	if r.Method != "Setstat" {
		return sftp.ErrSSHFxOpUnsupported
	}
	f, err := h.lookup(r.Filepath)
	if err != nil {
		return err
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	flags, attrs := r.AttrFlags(), r.Attributes()
	if flags.Size {
		data := make([]byte, attrs.Size)
		copy(data, f.data)
		f.data = data
	}
	if flags.Permissions {
		f.mode = attrs.FileMode().Perm()
	}
	return nil
}

func (h fakeHandlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	if r.Method != "Stat" && r.Method != "Lstat" {
		return nil, sftp.ErrSSHFxOpUnsupported
	}
	f, err := h.lookup(r.Filepath)
	if err != nil {
		return nil, err
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return fakeListing{fakeInfo{name: path.Base(r.Filepath), size: int64(len(f.data)), mode: f.mode}}, nil
}

// fakeOpenFile reads and writes a fakeFile.
type fakeOpenFile struct {
	s *fakeServer
	f *fakeFile
}

func (o fakeOpenFile) ReadAt(p []byte, off int64) (int, error) {
	if o.s.OnRead != nil {
		o.s.OnRead(off)
	}
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if off >= int64(len(o.f.data)) {
		return 0, io.EOF
	}
	if o.s.MaxRead > 0 && len(p) > o.s.MaxRead {
		p = p[:o.s.MaxRead]
	}
	n := copy(p, o.f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o fakeOpenFile) WriteAt(p []byte, off int64) (int, error) {
	if o.s.RefuseWrites.Load() {
		return 0, sftp.ErrSSHFxPermissionDenied
	}
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(o.f.data)) {
		o.f.data = append(o.f.data, make([]byte, end-int64(len(o.f.data)))...)
	}
	return copy(o.f.data[off:], p), nil
}

// fakeListing is a one-file sftp.ListerAt.
type fakeListing []os.FileInfo

func (l fakeListing) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if off+int64(n) >= int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}

type fakeInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return i.size }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return false }
func (i fakeInfo) Sys() any           { return nil }

// knownHostsFor writes a known_hosts file holding key for address and returns its path.
func knownHostsFor(t testing.TB, address string, key ssh.PublicKey) string {
	t.Helper()
	file := t.TempDir() + "/known_hosts"
	writeFile(t, file, knownHostsLine(address, key))
	return file
}
