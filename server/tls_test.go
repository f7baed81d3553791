package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// tlsServer serves d with TLS in mode, with certificates of a new CA, and returns the
// socket and a client configuration trusting that CA.
func tlsServer(t *testing.T, d *testDisk, mode server.TLSMode, log *logBuffer) (string, *tls.Config) {
	t.Helper()
	ca := newTestCA(t, "gonbd test CA")
	certs, err := server.LoadTLSCertificates(serverDir(t, ca, ca.valid("localhost", true), nil), false)
	if err != nil {
		t.Fatal(err)
	}
	opts := server.Options{TLS: mode, TLSConfig: certs.Config()}
	if log != nil {
		opts.Logger = log.logger()
	}
	path := startServer(t, d.layer(), opts)
	return path, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}
}

func dialTLS(t *testing.T, path string, cfg *tls.Config) (*client.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Dial(ctx, "unix", path, &client.Options{TLSConfig: cfg})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// roundTrip writes, flushes and reads back through c.
func roundTrip(t *testing.T, c *client.Conn, off uint64, seed byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	want := pattern(64<<10, seed)
	if err := c.WriteAt(ctx, want, off, 0); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.Flush(ctx, 0); err != nil {
		t.Fatalf("flush: %v", err)
	}
	got := make([]byte, len(want))
	if err := c.ReadAt(ctx, got, off, 0); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("read back other data than written")
	}
}

// startTLSRaw sends NBD_OPT_STARTTLS on a raw connection after the greeting, runs the
// TLS handshake and returns a raw connection over TLS.
func startTLSRaw(t *testing.T, c *rawConn, cfg *tls.Config) *rawConn {
	t.Helper()
	c.option(protocol.OptStartTLS, nil, protocol.RepAck)
	return upgradeRaw(t, c, cfg)
}

func upgradeRaw(t *testing.T, c *rawConn, cfg *tls.Config) *rawConn {
	t.Helper()
	if n := c.br.Buffered(); n != 0 {
		t.Fatalf("%d bytes from the server after the STARTTLS acknowledgement, before TLS", n)
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return &rawConn{t: t, nc: tc, br: bufio.NewReader(tc), sent: map[uint64]protocol.Request{}}
}

// TestTLSRequire checks the specification's FORCEDTLS mode: before TLS, every option
// but STARTTLS and ABORT is refused with NBD_REP_ERR_TLS_REQD, no reply names an export
// or tells a size, and no export is opened; after it, everything works.
func TestTLSRequire(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.exports = []server.Export{{Name: "secret-export", Description: "secret description"}}
	d.description = "secret description"
	path, cfg := tlsServer(t, d, server.TLSRequire, nil)

	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	var replies []byte
	for _, o := range []struct {
		opt     protocol.Opt
		payload []byte
	}{
		{protocol.OptList, nil},
		{protocol.OptInfo, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: "secret-export", Infos: []protocol.Info{protocol.InfoDescription}})},
		{protocol.OptGo, protocol.AppendInfoRequest(nil, protocol.InfoRequest{Name: ""})},
		{protocol.OptStructuredReply, nil},
		{protocol.OptExtendedHeaders, nil},
		{protocol.OptListMetaContext, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Name: "secret-export"})},
		{protocol.OptSetMetaContext, protocol.AppendMetaContextRequest(nil, protocol.MetaContextRequest{Queries: []string{protocol.MetaContextBaseAllocation}})},
		{protocol.Opt(4242), []byte("unknown")},
	} {
		replies = append(replies, c.option(o.opt, o.payload, protocol.RepErrTLSReqd)...)
	}
	for _, secret := range []string{"secret", "1048576"} {
		if bytes.Contains(replies, []byte(secret)) {
			t.Errorf("replies before TLS reveal %q: %q", secret, replies)
		}
	}
	if n := d.opens.Load(); n != 0 {
		t.Errorf("%d exports opened for a client that did not start TLS", n)
	}
	c.option(protocol.OptAbort, nil, protocol.RepAck)
	c.expectClosed()

	// NBD_OPT_EXPORT_NAME has no error reply: the client is hung up on, told nothing.
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.sendOpt(protocol.OptExportName, nil)
	c.expectClosed()
	// So is an old client that cannot read option replies at all.
	c = dialRaw(t, path)
	c.greet(protocol.ClientNoZeroes)
	c.sendOpt(protocol.OptExportName, nil)
	c.expectClosed()
	if n := d.opens.Load(); n != 0 {
		t.Errorf("%d exports opened for clients that did not start TLS", n)
	}

	// The pure-Go client without TLS is refused; with TLS it is served.
	if _, err := dialTLS(t, path, nil); err == nil {
		t.Fatal("a plaintext client was served by a server requiring TLS")
	} else if oe := new(client.OptionError); !errors.As(err, &oe) || oe.Reply != protocol.RepErrTLSReqd {
		t.Errorf("plaintext client: %v, want NBD_REP_ERR_TLS_REQD", err)
	}
	tc, err := dialTLS(t, path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !tc.TLS() || !tc.StructuredReplies() || tc.Description() != "secret description" {
		t.Errorf("TLS %v, structured replies %v, description %q", tc.TLS(), tc.StructuredReplies(), tc.Description())
	}
	roundTrip(t, tc, 4096, 1)

	// Once in TLS, LIST answers and STARTTLS again is invalid.
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c = startTLSRaw(t, c, cfg)
	c.option(protocol.OptStartTLS, nil, protocol.RepErrInvalid)
	c.sendOpt(protocol.OptList, nil)
	if name, _, _ := protocol.DecodeServerReply(c.expectOptReply(protocol.OptList, protocol.RepServer)); name != "secret-export" {
		t.Errorf("LIST over TLS: %q", name)
	}
	c.expectOptReply(protocol.OptList, protocol.RepAck)
	c.goExport("")
	checkServes(t, c)
}

// TestTLSOn lets each client choose, and checks that layers see which one did.
func TestTLSOn(t *testing.T) {
	d := newTestDisk(1 << 20)
	spy := &tlsSpy{}
	ca := newTestCA(t, "gonbd test CA")
	certs, err := server.LoadTLSCertificates(serverDir(t, ca, ca.valid("localhost", true), nil), false)
	if err != nil {
		t.Fatal(err)
	}
	path := startServer(t, spy.wrap(d.layer()), server.Options{TLS: server.TLSOn, TLSConfig: certs.Config()})

	plain, err := dialTLS(t, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, plain, 0, 1)
	if plain.TLS() {
		t.Error("a plaintext client reports TLS")
	}
	secure, err := dialTLS(t, path, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, secure, 64<<10, 2)
	if got, want := spy.seen(), []string{"open plain", "open tls"}; !equalStrings(got, want) {
		t.Errorf("layers saw %q, want %q", got, want)
	}

	// LIST before and after STARTTLS: the layer is told each time.
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptList, nil, protocol.RepServer)
	c.expectOptReply(protocol.OptList, protocol.RepAck)
	c = startTLSRaw(t, c, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"})
	c.option(protocol.OptList, nil, protocol.RepServer)
	c.expectOptReply(protocol.OptList, protocol.RepAck)
	if got := spy.seen()[2:]; !equalStrings(got, []string{"list plain", "list tls"}) {
		t.Errorf("LIST: layers saw %q", got)
	}
}

// tlsSpy records whether each Open and ListExports came over TLS.
type tlsSpy struct {
	mu   sync.Mutex
	log  []string
	next server.Layer
}

func (s *tlsSpy) wrap(next server.Layer) server.Layer {
	s.next = next
	return tlsSpyLayer{server.PassThrough{Next: next}, s}
}

func (s *tlsSpy) note(ctx context.Context, what string) {
	info, ok := server.ConnInfoFrom(ctx)
	mode := "no connection"
	switch {
	case ok && info.TLS:
		mode = "tls"
	case ok:
		mode = "plain"
	}
	s.mu.Lock()
	s.log = append(s.log, what+" "+mode)
	s.mu.Unlock()
}

func (s *tlsSpy) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

type tlsSpyLayer struct {
	server.PassThrough
	spy *tlsSpy
}

func (l tlsSpyLayer) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	l.spy.note(ctx, "open")
	return l.Next.Open(ctx, req)
}

func (l tlsSpyLayer) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	l.spy.note(ctx, "list")
	return l.Next.ListExports(ctx, readOnly)
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestStartTLSRefused: without TLS, STARTTLS is refused by policy and the handshake
// goes on; STARTTLS with data is invalid.
func TestStartTLSRefused(t *testing.T) {
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStartTLS, nil, protocol.RepErrPolicy)
	c.goExport("")
	checkServes(t, c)

	path, _ = tlsServer(t, newTestDisk(1<<20), server.TLSOn, nil)
	c = dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStartTLS, []byte{0}, protocol.RepErrInvalid)
	c.goExport("")
	checkServes(t, c)
}

// TestTLSForgetsPlaintextOptions is the regression test of CVE-2021-3716: structured
// replies and meta contexts negotiated in plaintext (perhaps by a man in the middle)
// must not survive STARTTLS, or a client that did not ask for them gets replies it
// cannot parse.
func TestTLSForgetsPlaintextOptions(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.write([]byte("plaintext"), 0)
	path, cfg := tlsServer(t, d, server.TLSOn, nil)
	for _, opt := range []protocol.Opt{protocol.OptStructuredReply, protocol.OptExtendedHeaders} {
		c := dialRaw(t, path)
		c.greet(fixedNoZeroes)
		c.option(opt, nil, protocol.RepAck)
		c.sendOpt(protocol.OptSetMetaContext, protocol.AppendMetaContextRequest(nil,
			protocol.MetaContextRequest{Queries: []string{protocol.MetaContextBaseAllocation}}))
		c.expectOptReply(protocol.OptSetMetaContext, protocol.RepMetaContext)
		c.expectOptReply(protocol.OptSetMetaContext, protocol.RepAck)

		c = startTLSRaw(t, c, cfg) // c.structured and c.extended are false
		c.goExport("")
		rep := c.do(protocol.Request{Type: protocol.CmdRead, Length: 9}, nil)
		if rep.magic != protocol.SimpleReplyMagic || string(rep.data) != "plaintext" {
			t.Errorf("%v before STARTTLS: read reply magic %#x data %q, want a simple reply", opt, rep.magic, rep.data)
		}
		if rep := c.do(protocol.Request{Type: protocol.CmdBlockStatus, Length: 4096}, nil); rep.errno != protocol.EINVAL {
			t.Errorf("%v before STARTTLS: block status %s, want EINVAL: meta contexts survived", opt, errnoOf(rep))
		}
	}
}

// TestTLSDropsPipelinedPlaintext is the regression test of nbdkit 1.34's fix: bytes a
// client (or someone on the path) sends after NBD_OPT_STARTTLS, before the TLS
// handshake, are plaintext and must be dropped, not read as options of the encrypted
// session.
func TestTLSDropsPipelinedPlaintext(t *testing.T) {
	d := newTestDisk(1 << 20)
	log := &logBuffer{}
	path, cfg := tlsServer(t, d, server.TLSRequire, log)
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	wire := protocol.AppendOptionHeader(nil, protocol.OptStartTLS, 0)
	// Injected: structured replies, then ABORT, which would end the session.
	wire = protocol.AppendOptionHeader(wire, protocol.OptStructuredReply, 0)
	wire = protocol.AppendOptionHeader(wire, protocol.OptAbort, 0)
	c.write(wire)
	c.expectOptReply(protocol.OptStartTLS, protocol.RepAck)
	c = upgradeRaw(t, c, cfg)
	// The first reply over TLS is GO's: nothing injected was answered or obeyed.
	c.goExport("")
	rep := c.do(protocol.Request{Type: protocol.CmdRead, Length: 512}, nil)
	if rep.errno != 0 || rep.magic != protocol.SimpleReplyMagic {
		t.Fatalf("read after injected options: errno %v magic %#x, want a simple reply", rep.errno, rep.magic)
	}
	waitFor(t, "the server to log the dropped bytes", func() bool {
		return strings.Contains(log.String(), "dropping plaintext sent after NBD_OPT_STARTTLS")
	})
}

// TestTLSClientCertificates checks --tls-verify-peer: a client certificate signed by
// the CA is required; a missing, expired, revoked, or foreign one fails the handshake,
// and the server goes on serving.
func TestTLSClientCertificates(t *testing.T) {
	ca, other := newTestCA(t, "gonbd test CA"), newTestCA(t, "another CA")
	now := time.Now()
	good := ca.valid("client.example.com", false)
	expired := ca.issue("expired.example.com", false, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	notYet := ca.issue("future.example.com", false, now.Add(24*time.Hour), now.Add(48*time.Hour))
	revoked := ca.valid("revoked.example.com", false)
	foreign := other.valid("client.example.com", false)
	serverCert := ca.valid("localhost", true)

	dir := serverDir(t, ca, serverCert, ca.crl(revoked))
	certs, err := server.LoadTLSCertificates(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{TLS: server.TLSRequire, TLSConfig: certs.Config()})
	cfg := func(c *testCert) *tls.Config {
		cfg := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}
		if c != nil {
			cfg.Certificates = []tls.Certificate{c.tls(t)}
		}
		return cfg
	}
	for _, tc := range []struct {
		name string
		cert *testCert
	}{
		{"missing", nil}, {"expired", &expired}, {"not yet valid", &notYet},
		{"revoked", &revoked}, {"from another CA", &foreign},
	} {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			c := cfg(tc.cert)
			c.MaxVersion = version
			conn, err := dialTLS(t, path, c)
			if err == nil {
				// In TLS 1.3 the client learns of the refusal at its first read.
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				err = conn.ReadAt(ctx, make([]byte, 512), 0, 0)
				cancel()
			}
			if err == nil {
				t.Errorf("%s client certificate, %s: served", tc.name, tls.VersionName(version))
			}
		}
	}
	if n := d.opens.Load(); n != 0 {
		t.Errorf("%d exports opened for clients with bad certificates", n)
	}
	conn, err := dialTLS(t, path, cfg(&good))
	if err != nil {
		t.Fatalf("a good client certificate: %v", err)
	}
	roundTrip(t, conn, 0, 3)

	// A revocation list nobody trusted signed is refused outright.
	writeFiles(t, dir, map[string][]byte{"ca-crl.pem": other.crl(good)})
	if err := certs.Reload(); err == nil || !strings.Contains(err.Error(), "not signed by a CA") {
		t.Errorf("reload with a foreign CRL: %v", err)
	}
	roundTrip(t, conn, 0, 4) // the certificates in use stay
}

// TestTLSVersions: TLS 1.2 at least, 1.3 preferred.
func TestTLSVersions(t *testing.T) {
	path, cfg := tlsServer(t, newTestDisk(1<<20), server.TLSRequire, nil)
	for _, tc := range []struct {
		max  uint16
		want uint16 // 0: refused
	}{{tls.VersionTLS11, 0}, {tls.VersionTLS12, tls.VersionTLS12}, {0, tls.VersionTLS13}} {
		c := cfg.Clone()
		c.MinVersion, c.MaxVersion = tls.VersionTLS10, tc.max
		var got uint16
		c.VerifyConnection = func(st tls.ConnectionState) error { got = st.Version; return nil }
		_, err := dialTLS(t, path, c)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("a client of at most %s was served", tls.VersionName(tc.max))
		case tc.want != 0 && err != nil:
			t.Errorf("max %s: %v", tls.VersionName(tc.max), err)
		case tc.want != 0 && got != tc.want:
			t.Errorf("max %s: negotiated %s, want %s", tls.VersionName(tc.max), tls.VersionName(got), tls.VersionName(tc.want))
		}
	}
}

// TestTLSReload replaces the certificates while a client is connected: it keeps
// working, and new clients get the new certificate.
func TestTLSReload(t *testing.T) {
	ca := newTestCA(t, "gonbd test CA")
	first, second := ca.valid("localhost", true), ca.valid("localhost", true)
	dir := serverDir(t, ca, first, nil)
	certs, err := server.LoadTLSCertificates(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{TLS: server.TLSRequire, TLSConfig: certs.Config()})
	serial := func() (*client.Conn, string) {
		var got string
		cfg := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", VerifyConnection: func(st tls.ConnectionState) error {
			got = st.PeerCertificates[0].SerialNumber.String()
			return nil
		}}
		c, err := dialTLS(t, path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c, got
	}
	old, s := serial()
	if s != first.cert.SerialNumber.String() {
		t.Fatalf("server certificate serial %s, want %s", s, first.cert.SerialNumber)
	}
	writeFiles(t, dir, map[string][]byte{"server-cert.pem": second.certPEM(), "server-key.pem": second.keyPEM(t)})
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, s := serial(); s != second.cert.SerialNumber.String() {
		t.Errorf("after reload: serial %s, want %s", s, second.cert.SerialNumber)
	}
	roundTrip(t, old, 0, 5)

	// A broken directory leaves the certificates loaded before in use.
	if err := os.Remove(filepath.Join(dir, "server-key.pem")); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Error("reload without a key succeeded")
	}
	if _, s := serial(); s != second.cert.SerialNumber.String() {
		t.Errorf("after a failed reload: serial %s, want %s", s, second.cert.SerialNumber)
	}
}

func TestLoadTLSCertificatesErrors(t *testing.T) {
	ca := newTestCA(t, "gonbd test CA")
	srv := ca.valid("localhost", true)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no CA", map[string][]byte{"server-cert.pem": srv.certPEM(), "server-key.pem": srv.keyPEM(t)}, "ca-cert.pem"},
		{"no key", map[string][]byte{"ca-cert.pem": ca.pem(), "server-cert.pem": srv.certPEM()}, "server-key.pem"},
		{"CA not PEM", map[string][]byte{"ca-cert.pem": []byte("junk"), "server-cert.pem": srv.certPEM(), "server-key.pem": srv.keyPEM(t)}, "no PEM certificate"},
		{"bad CRL", map[string][]byte{"ca-cert.pem": ca.pem(), "server-cert.pem": srv.certPEM(), "server-key.pem": srv.keyPEM(t), "ca-crl.pem": []byte("junk")}, "no PEM revocation list"},
		{"wrong key", map[string][]byte{"ca-cert.pem": ca.pem(), "server-cert.pem": srv.certPEM(), "server-key.pem": ca.valid("x", true).keyPEM(t)}, "private key does not match"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, tc.files)
		_, err := server.LoadTLSCertificates(dir, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: %v, want an error naming %s and %q", tc.name, err, dir, tc.want)
		}
	}
}

func TestTLSOptionsChecked(t *testing.T) {
	ctx := context.Background()
	layer := newTestDisk(1 << 20).layer()
	cfg := &tls.Config{Certificates: []tls.Certificate{newTestCA(t, "x").valid("localhost", true).tls(t)}}
	for _, tc := range []struct {
		opts server.Options
		want string
	}{
		{server.Options{TLS: server.TLSRequire}, "TLSConfig"},
		{server.Options{TLS: server.TLSOn}, "TLSConfig"},
		{server.Options{TLS: server.TLSRequire, TLSConfig: cfg, Oldstyle: true}, "oldstyle"},
		{server.Options{TLS: 7, TLSConfig: cfg}, "unknown TLS mode"},
	} {
		if _, err := server.New(ctx, layer, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error about %s", tc.opts, err, tc.want)
		}
	}
	// An old minimum version is raised, here through GetConfigForClient.
	old := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{MinVersion: tls.VersionTLS10, Certificates: cfg.Certificates}, nil
	}}
	path := startServer(t, layer, server.Options{TLS: server.TLSOn, TLSConfig: old})
	_, err := dialTLS(t, path, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if err == nil {
		t.Error("a TLS 1.1 client was served")
	}
}

func TestParseTLSMode(t *testing.T) {
	for in, want := range map[string]server.TLSMode{
		"off": server.TLSOff, "on": server.TLSOn, "require": server.TLSRequire,
		"yes": server.TLSOn, "0": server.TLSOff, "false": server.TLSOff, "true": server.TLSOn,
	} {
		if got, err := server.ParseTLSMode(in); err != nil || got != want {
			t.Errorf("ParseTLSMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := server.ParseTLSMode("required"); err == nil || !strings.Contains(err.Error(), "off, on or require") {
		t.Errorf("ParseTLSMode(required): %v", err)
	}
}

// TestNoPSKInCryptoTLS keeps the evidence behind refusing --tls-psk: crypto/tls has no
// PSK cipher suite. When it gets one, this test fails, and PSK can be implemented.
func TestNoPSKInCryptoTLS(t *testing.T) {
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if strings.Contains(s.Name, "PSK") {
			t.Errorf("crypto/tls now has the PSK cipher suite %s: --tls-psk can be supported", s.Name)
		}
	}
}

// TestTLSHandshakeDeadline: a client that stalls in the TLS handshake after STARTTLS
// is dropped at the handshake deadline, like one that stalls in plaintext.
func TestTLSHandshakeDeadline(t *testing.T) {
	ca := newTestCA(t, "gonbd test CA")
	certs, err := server.LoadTLSCertificates(serverDir(t, ca, ca.valid("localhost", true), nil), false)
	if err != nil {
		t.Fatal(err)
	}
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{
		TLS: server.TLSRequire, TLSConfig: certs.Config(), HandshakeTimeout: 300 * time.Millisecond})
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	c.option(protocol.OptStartTLS, nil, protocol.RepAck)
	start := time.Now()
	c.expectClosed() // no ClientHello ever comes
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a client silent in the TLS handshake was dropped after %v", d)
	}
}
