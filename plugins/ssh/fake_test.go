package ssh

// Tests against the in-process SSH server: logging in, host keys, remote errors,
// lost connections and parallel requests, through the real engine and the pure-Go
// NBD client.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
	"golang.org/x/crypto/ssh"
)

// options returns Options that reach s, trust its host key and log in with its client
// key, for the file at path.
func (s *fakeServer) options(t testing.TB, path string) Options {
	t.Helper()
	host, port, err := net.SplitHostPort(s.Address)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Host: host, Port: port, User: "tester", Path: path,
		Signers:    []ssh.Signer{s.ClientKey},
		NoAgent:    true,
		KnownHosts: []string{knownHostsFor(t, s.Address, s.HostKey.PublicKey())},
	}
}

// serve makes the plugin from opts and serves it, returning the server.
func serve(t testing.TB, opts Options, serverOpts server.Options) *servertest.Server {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, server.PluginLayer("ssh", p), serverOpts)
}

// getReady makes the plugin from opts and returns what GetReady says.
func getReady(t testing.TB, opts Options) error {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.GetReady(ctx)
}

func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

func TestReadWriteFlushCapabilities(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	fake.Put("/disk.img", patterned(1<<20))
	s := serve(t, fake.options(t, "/disk.img"), server.Options{})
	c := s.Dial(t)
	ctx := context.Background()
	if c.Size() != 1<<20 {
		t.Errorf("size %d, want %d", c.Size(), 1<<20)
	}
	flags := c.Flags()
	// pkg/sftp's server has no fsync@openssh.com: no flush, and so no FUA.
	if flags&protocol.FlagSendFlush != 0 || flags&protocol.FlagSendFUA != 0 {
		t.Errorf("flags %v offer flush or FUA, which the server cannot do", flags)
	}
	if flags&protocol.FlagReadOnly != 0 || flags&protocol.FlagSendTrim != 0 || flags&protocol.FlagSendWriteZeroes == 0 {
		t.Errorf("flags %v: want writable, zero (emulated), no trim", flags)
	}

	got := make([]byte, 300<<10) // more than one SFTP packet
	if err := c.ReadAt(ctx, got, 5000, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, patterned(1 << 20)[5000:5000+300<<10]) {
		t.Error("read the wrong bytes")
	}
	payload := bytes.Repeat([]byte("gonbd"), 100<<10)
	if err := c.WriteAt(ctx, payload, 12345, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Zero(ctx, 700<<10, 64<<10, 0); err != nil {
		t.Fatal(err)
	}
	want := patterned(1 << 20)
	copy(want[12345:], payload)
	clear(want[700<<10 : 764<<10])
	if data, _, _ := fake.Get("/disk.img"); !bytes.Equal(data, want) {
		t.Error("the remote file does not hold what was written")
	}
}

func TestPasswordLogin(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	fake.Put("/disk.img", patterned(4096))
	opts := fake.options(t, "/disk.img")
	opts.Signers = nil
	opts.Password = fake.Password
	if err := getReady(t, opts); err != nil {
		t.Fatalf("logging in with the password: %v", err)
	}

	opts.Password = "wrong"
	err := getReady(t, opts)
	if err == nil || !strings.Contains(err.Error(), "logging in to "+fake.Address+" as tester failed (tried the password") {
		t.Errorf("a wrong password: %v", err)
	}
	opts.Password = ""
	err = getReady(t, opts)
	if err == nil || !strings.Contains(err.Error(), "no keys in the SSH agent or identity files, and no password given") {
		t.Errorf("nothing to log in with: %v", err)
	}
}

func TestEncryptedIdentity(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	fake.Put("/disk.img", patterned(4096))
	// A key made with ssh-keygen -a 1: one round of bcrypt keeps the test fast.
	file := "testdata/id_ed25519_encrypted"
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fake.ClientKey, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte("open sesame")); err != nil {
		t.Fatal(err)
	}
	opts := fake.options(t, "/disk.img")
	opts.Signers = nil
	opts.Identities = []string{file}

	_, err = New(opts)
	if err == nil || !strings.Contains(err.Error(), "identity="+file+": the key is encrypted") || !strings.Contains(err.Error(), "ssh-agent") {
		t.Errorf("an encrypted key without a passphrase: %v", err)
	}
	opts.Password = "wrong"
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "password= does not decrypt it") {
		t.Errorf("an encrypted key with the wrong passphrase: %v", err)
	}
	opts.Password = "open sesame"
	if err := getReady(t, opts); err != nil {
		t.Errorf("an encrypted key with its passphrase: %v", err)
	}
}

func TestHostKeyChecks(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	fake.Put("/disk.img", patterned(4096))
	fingerprint := ssh.FingerprintSHA256(fake.HostKey.PublicKey())
	host, port, _ := net.SplitHostPort(fake.Address)

	t.Run("unknown", func(t *testing.T) {
		opts := fake.options(t, "/disk.img")
		opts.KnownHosts = []string{knownHostsFor(t, "192.0.2.1:22", fake.HostKey.PublicKey())} // another host's
		err := getReady(t, opts)
		t.Log(err)
		for _, want := range []string{"the host key of " + fake.Address + " is unknown", fingerprint,
			"ssh-keyscan -p " + port + " -t ed25519 " + host, "verify-remote-host=false"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("unknown host: %v\nwant it to say %q", err, want)
			}
		}
	})
	t.Run("no files", func(t *testing.T) {
		opts := fake.options(t, "/disk.img")
		opts.KnownHosts = []string{}
		err := getReady(t, opts)
		if err == nil || !strings.Contains(err.Error(), "there are no known hosts files") {
			t.Errorf("no known hosts: %v", err)
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		other := writeKey(t, t.TempDir()+"/other")
		opts := fake.options(t, "/disk.img")
		opts.KnownHosts = []string{knownHostsFor(t, fake.Address, other.PublicKey())}
		err := getReady(t, opts)
		t.Log(err)
		for _, want := range []string{"does not match", fingerprint, ssh.FingerprintSHA256(other.PublicKey()), "man in the middle"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("changed host key: %v\nwant it to say %q", err, want)
			}
		}
	})
	t.Run("revoked", func(t *testing.T) {
		opts := fake.options(t, "/disk.img")
		file := t.TempDir() + "/known_hosts"
		writeFile(t, file, "@revoked * "+string(ssh.MarshalAuthorizedKey(fake.HostKey.PublicKey())))
		opts.KnownHosts = []string{file}
		if err := getReady(t, opts); err == nil || !strings.Contains(err.Error(), "is revoked") {
			t.Errorf("revoked host key: %v", err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		opts := fake.options(t, "/disk.img")
		opts.KnownHosts = []string{}
		opts.InsecureIgnoreHostKey = true
		if err := getReady(t, opts); err != nil {
			t.Errorf("verify-remote-host=false: %v", err)
		}
	})
	t.Run("algorithm", func(t *testing.T) {
		// The server prefers its Ed25519 key, but the file knows its RSA key only:
		// the plugin must ask for the RSA one rather than see a changed key.
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaSigner, err := ssh.NewSignerFromKey(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		fake := startFakeServer(t, func(s *fakeServer) { s.MoreHostKeys = []ssh.Signer{rsaSigner} })
		fake.Put("/disk.img", patterned(4096))
		opts := fake.options(t, "/disk.img")
		opts.KnownHosts = []string{knownHostsFor(t, fake.Address, rsaSigner.PublicKey())}
		if err := getReady(t, opts); err != nil {
			t.Errorf("a host known by its RSA key: %v", err)
		}
	})
}

func TestMissingFile(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	err := getReady(t, fake.options(t, "/nowhere.img"))
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "/nowhere.img on "+fake.Address+": no such file") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestPermissionDenied(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	fake.Put("/disk.img", patterned(64<<10))
	ctx := context.Background()

	t.Run("open", func(t *testing.T) {
		fake.RefuseWriteOpens.Store(true)
		defer fake.RefuseWriteOpens.Store(false)
		p, err := New(fake.options(t, "/disk.img"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Open(ctx, server.OpenRequest{})
		if !errors.Is(err, syscall.EACCES) || server.ErrnoOf(err) != protocol.EPERM || !strings.Contains(err.Error(), "serve it read-only with -r") {
			t.Errorf("opening a file the server will not let us write: %v", err)
		}
		// Read-only, it serves.
		s := servertest.Start(t, server.PluginLayer("ssh", p), server.Options{ReadOnly: true})
		got := make([]byte, 4096)
		if err := s.Dial(t).ReadAt(ctx, got, 8192, 0); err != nil || !bytes.Equal(got, patterned(64 << 10)[8192:12288]) {
			t.Errorf("reading read-only: %v", err)
		}
	})
	t.Run("write", func(t *testing.T) {
		fake.RefuseWrites.Store(true)
		defer fake.RefuseWrites.Store(false)
		s := serve(t, fake.options(t, "/disk.img"), server.Options{})
		err := s.Dial(t).WriteAt(ctx, []byte("x"), 0, 0)
		if !errors.Is(err, protocol.EPERM) {
			t.Errorf("a write the server refuses: %v, want EPERM", err)
		}
		if log := s.Log.String(); !strings.Contains(log, "writing 1 bytes at 0: permission denied") {
			t.Errorf("the refusal is not in the log:\n%s", log)
		}
	})
}

func TestConnectionDroppedMidRequest(t *testing.T) {
	isolate(t)
	reading, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fake := startFakeServer(t, func(s *fakeServer) {
		s.OnRead = func(off int64) {
			if off >= 512<<10 {
				once.Do(func() { close(reading) })
				<-release
			}
		}
	})
	fake.Put("/disk.img", patterned(1<<20))
	s := serve(t, fake.options(t, "/disk.img"), server.Options{})
	c := s.Dial(t)
	ctx := context.Background()

	failed := make(chan error, 1)
	go func() { failed <- c.ReadAt(ctx, make([]byte, 4096), 512<<10, 0) }()
	select {
	case <-reading:
	case <-time.After(30 * time.Second):
		t.Fatal("the read never reached the server")
	}
	fake.DropConnections()
	close(release)
	select {
	case err := <-failed:
		if !errors.Is(err, protocol.EIO) {
			t.Errorf("the read in flight when the connection dropped: %v, want EIO", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the read in flight did not end when the connection dropped")
	}
	// Later requests fail too, and say why in the log.
	if err := c.ReadAt(ctx, make([]byte, 4096), 0, 0); !errors.Is(err, protocol.EIO) {
		t.Errorf("a read after the connection dropped: %v, want EIO", err)
	}
	if err := c.WriteAt(ctx, []byte("late"), 0, 0); !errors.Is(err, protocol.EIO) {
		t.Errorf("a write after the connection dropped: %v, want EIO", err)
	}
	if log := s.Log.String(); !strings.Contains(log, "lost") && !strings.Contains(log, "SFTP session ended") {
		t.Errorf("the log does not say the connection was lost:\n%s", log)
	}
	// A new client connection gets a new SSH connection.
	got := make([]byte, 4096)
	if err := s.Dial(t).ReadAt(ctx, got, 4096, 0); err != nil || !bytes.Equal(got, patterned(1 << 20)[4096:8192]) {
		t.Errorf("a new connection after the drop: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	isolate(t)
	// A server that accepts connections and never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				io.Copy(io.Discard, c) // until the plugin gives up
				c.Close()
			}()
		}
	}()
	defer func() {
		l.Close()
		<-done
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	opts := Options{Host: host, Port: port, User: "tester", Path: "/disk.img", NoAgent: true,
		InsecureIgnoreHostKey: true, Timeout: time.Second}
	start := time.Now()
	err = getReady(t, opts)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "timeout=1: the server did not finish logging in within 1s") {
		t.Errorf("a silent server: %v, want a timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("timeout=1 took %v to give up", elapsed)
	}
}

func TestParallelRequestsAndConnections(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	const size = 4 << 20
	fake.Put("/disk.img", make([]byte, size))
	s := serve(t, fake.options(t, "/disk.img"), server.Options{})
	ctx := context.Background()
	const conns, workers, block = 3, 8, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, conns*workers)
	for i := range conns {
		c := s.Dial(t)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each worker owns the blocks b with b % (conns*workers) == its number.
				id := i*workers + w
				for b := id; b < size/block; b += conns * workers {
					data := bytes.Repeat([]byte{byte(b + 1)}, block)
					if err := c.WriteAt(ctx, data, uint64(b*block), 0); err != nil {
						errs <- err
						return
					}
					got := make([]byte, block)
					if err := c.ReadAt(ctx, got, uint64(b*block), 0); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, data) {
						errs <- fmt.Errorf("block %d reads back wrong", b)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	data, _, _ := fake.Get("/disk.img")
	for b := range size / block {
		if !bytes.Equal(data[b*block:(b+1)*block], bytes.Repeat([]byte{byte(b + 1)}, block)) {
			t.Fatalf("block %d of the remote file is wrong", b)
		}
	}
	fake.mu.Lock()
	sessions := fake.Sessions
	fake.mu.Unlock()
	if sessions != conns+1 { // one per client connection, and GetReady's
		t.Errorf("%d SFTP sessions for %d client connections: want one each, plus GetReady's", sessions, conns)
	}
}

func TestCreate(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, nil)
	ctx := context.Background()

	opts := fake.options(t, "/new.img")
	opts.Create, opts.CreateSize, opts.CreateMode = true, 1<<20, 0o640
	s := serve(t, opts, server.Options{})
	if _, _, exists := fake.Get("/new.img"); exists {
		t.Fatal("the file was created before a client connected")
	}
	c := s.Dial(t)
	if c.Size() != 1<<20 {
		t.Errorf("size %d, want create-size", c.Size())
	}
	if err := c.WriteAt(ctx, []byte("first"), 0, 0); err != nil {
		t.Fatal(err)
	}
	// A second connection sees the first one's data: creation happens once.
	got := make([]byte, 5)
	if err := s.Dial(t).ReadAt(ctx, got, 0, 0); err != nil || string(got) != "first" {
		t.Errorf("a second connection reads %q, %v: want what the first wrote", got, err)
	}
	data, mode, _ := fake.Get("/new.img")
	if len(data) != 1<<20 || mode != 0o640 {
		t.Errorf("the created file has %d bytes and mode %#o, want %d and 0640", len(data), mode, 1<<20)
	}

	// An existing file is truncated to the size but keeps its mode.
	fake.Put("/old.img", patterned(3<<20))
	opts.Path = "/old.img"
	s = serve(t, opts, server.Options{})
	if c := s.Dial(t); c.Size() != 1<<20 {
		t.Errorf("the replaced file's size is %d, want %d", c.Size(), 1<<20)
	}
	data, mode, _ = fake.Get("/old.img")
	if !bytes.Equal(data, make([]byte, 1<<20)) || mode != 0o644 {
		t.Errorf("the replaced file has mode %#o and is not all zeroes: want its old mode 0644 and no old data", mode)
	}
}

// TestShortReads serves from a server that returns less than each read asks for, and
// that calls itself an OpenSSH too old for large packets.
func TestShortReads(t *testing.T) {
	isolate(t)
	fake := startFakeServer(t, func(s *fakeServer) {
		s.MaxRead = 10000
		s.Version = "SSH-2.0-OpenSSH_7.4"
	})
	want := patterned(1 << 20)
	fake.Put("/disk.img", want)
	log := &servertest.LogBuffer{}
	opts := fake.options(t, "/disk.img")
	opts.Logger = log.Logger()
	s := serve(t, opts, server.Options{})
	got := make([]byte, 700<<10)
	if err := s.Dial(t).ReadAt(context.Background(), got, 1000, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want[1000:1000+700<<10]) {
		t.Error("read the wrong bytes")
	}
	if !strings.Contains(log.String(), "sftp_packet=32768") {
		t.Errorf("an OpenSSH without limits@openssh.com gets large packets:\n%s", log)
	}
}
