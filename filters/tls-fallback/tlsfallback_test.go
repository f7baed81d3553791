package tlsfallback_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	tlsfallback "github.com/gonbd/gonbd/filters/tls-fallback"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// readme returns the 512 bytes plaintext clients should read for message.
func readme(message string) []byte {
	b := make([]byte, tlsfallback.Size)
	copy(b, message)
	return b
}

func TestPlaintextSeesTheMessageOnly(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	l := tlsfallback.New(server.PluginLayer("disk", listedDisk{d}), tlsfallback.Options{})
	if err := l.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"plaintext connection", server.WithConnInfo(ctx, server.ConnInfo{ID: 1})},
		{"no connection", ctx},
	} {
		exports, err := l.ListExports(tc.ctx, false)
		if err != nil || len(exports) != 1 || exports[0] != (server.Export{}) {
			t.Errorf("%s: ListExports = %+v, %v; want the one export \"\"", tc.name, exports, err)
		}
		if def, err := l.DefaultExport(tc.ctx, false); err != nil || def != "" {
			t.Errorf("%s: DefaultExport = %q, %v", tc.name, def, err)
		}
		h, err := l.Open(tc.ctx, server.OpenRequest{ExportName: "secret"})
		if err != nil {
			t.Fatal(err)
		}
		size, _ := h.Size(tc.ctx)
		caps, _ := h.Capabilities(tc.ctx)
		desc, _ := h.ExportDescription(tc.ctx)
		if size != 512 || caps != (server.Capabilities{}) || desc != "" {
			t.Errorf("%s: size %d, capabilities %+v, description %q; want 512, none, none", tc.name, size, caps, desc)
		}
		got := make([]byte, 512)
		if err := h.ReadAt(tc.ctx, got, 0, 0); err != nil || !bytes.Equal(got, readme(tlsfallback.DefaultMessage)) {
			t.Errorf("%s: read %q, %v", tc.name, got, err)
		}
		if err := h.WriteAt(tc.ctx, got, 0, 0); err == nil {
			t.Errorf("%s: a write succeeded", tc.name)
		}
	}
	if n := d.Counts().Opens.Load(); n != 0 {
		t.Errorf("the plugin was opened %d times for plaintext clients", n)
	}

	// A connection in TLS passes through.
	tlsCtx := server.WithConnInfo(ctx, server.ConnInfo{ID: 2, TLS: true})
	exports, err := l.ListExports(tlsCtx, false)
	if err != nil || len(exports) != 1 || exports[0].Name != "secret" {
		t.Errorf("TLS: ListExports = %+v, %v", exports, err)
	}
	h, err := l.Open(tlsCtx, server.OpenRequest{ExportName: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(tlsCtx, false); err != nil {
		t.Fatal(err)
	}
	if size, _ := h.Size(tlsCtx); size != 1<<20 {
		t.Errorf("TLS: size %d", size)
	}
}

func TestMessageParameter(t *testing.T) {
	long := strings.Repeat("0123456789", 60)
	for _, tc := range []struct {
		param string
		want  []byte
	}{
		{"tlsreadme=use TLS, please\n", readme("use TLS, please\n")},
		{"tlsreadme=" + long, []byte(long[:512])},
	} {
		d := servertest.NewDisk(1 << 20)
		l, err := servertest.Stack(d.Spec(), []server.FilterSpec{tlsfallback.Spec()}, tc.param)
		if err != nil {
			t.Fatal(err)
		}
		ctx := server.WithConnInfo(context.Background(), server.ConnInfo{ID: 1})
		h, err := l.Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 512)
		if err := h.ReadAt(ctx, got, 0, 0); err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%.30s: read %q, %v", tc.param, got, err)
		}
	}
}

// listedDisk is a Disk that lists one export, "secret".
type listedDisk struct{ *servertest.Disk }

func (listedDisk) ListExports(context.Context, bool) ([]server.Export, error) {
	return []server.Export{{Name: "secret", Description: "the real disk"}}, nil
}

func (d listedDisk) spec() server.PluginSpec {
	return server.PluginSpec{Name: "disk", New: func(*server.Params) (server.Plugin, error) { return d, nil }}
}

// serialDisk is a plugin that serves one connection at a time.
type serialDisk struct{ *servertest.Disk }

func (serialDisk) ThreadModel() server.ThreadModel { return server.SerializeConnections }

func TestRefusesSerializedConnections(t *testing.T) {
	d := servertest.NewDisk(1 << 20)
	l := tlsfallback.New(server.PluginLayer("serial", serialDisk{d}), tlsfallback.Options{})
	err := l.GetReady(context.Background())
	if err == nil || !strings.Contains(err.Error(), "serialize_connections") {
		t.Errorf("GetReady on a serialize_connections plugin: %v", err)
	}
}

// TestEndToEnd serves a disk with TLS on behind the filter: nbdsh and qemu-io in TLS
// reach the disk, nbdsh and nbdinfo in plaintext read the message and learn nothing of
// the real exports.
func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "nbdinfo")
	files := servertest.NewTLSFiles(t)
	d := servertest.NewDisk(1 << 20)
	layer, err := servertest.Stack(listedDisk{d}.spec(), []server.FilterSpec{tlsfallback.Spec()})
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, layer, files.ServerOptions(t, server.TLSOn, false))

	args := s.QemuTLSArgs(files, "secret")
	r := servertest.Run(t, "qemu-io", append(args, "-c", "write -P 0x7e 64k 64k", "-c", "read -P 0x7e 64k 64k")...)
	if r.Code != 0 || servertest.QemuIOFailed(r) {
		t.Fatalf("qemu-io over TLS: %s", r)
	}
	if !bytes.Equal(d.Bytes()[64<<10:128<<10], bytes.Repeat([]byte{0x7e}, 64<<10)) {
		t.Error("the disk does not hold what qemu-io wrote over TLS")
	}
	servertest.NbdshTLS(t, s.TLSURI(files, "secret"),
		"assert h.get_size() == 1048576",
		"assert h.pread(4, 64*1024) == b'\\x7e' * 4",
		"assert h.get_tls_negotiated()")

	// Plaintext: the message, read-only, whatever the export asked for.
	servertest.Nbdsh(t, s.ExportURI("secret"),
		"assert h.get_size() == 512",
		"assert h.is_read_only()",
		"assert not h.get_tls_negotiated()",
		"assert h.pread(512, 0) == b'"+strings.TrimSuffix(tlsfallback.DefaultMessage, "\n")+"\\n' + bytes(512-78)")
	list := servertest.MustRun(t, "nbdinfo", "--list", "--json", s.URI())
	if strings.Contains(list.Stdout, "secret") || strings.Contains(list.Stdout, "the real disk") {
		t.Errorf("the plaintext export list reveals the real exports:\n%s", list.Stdout)
	}
	if n := d.Counts().Writes.Load(); n == 0 {
		t.Error("no write reached the disk")
	}

	// The pure-Go client in TLS lists the real export.
	ctx := context.Background()
	exports, err := client.List(ctx, "unix", s.Socket, &client.Options{TLSConfig: files.ClientConfig})
	if err != nil || len(exports) != 1 || exports[0].Name != "secret" {
		t.Errorf("List over TLS: %+v, %v", exports, err)
	}
}
