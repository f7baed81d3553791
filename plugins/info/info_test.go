package info

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func newPlugin(t *testing.T, mode Mode) *Plugin {
	t.Helper()
	p, err := New(Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// open opens the plugin the way the server does, with conn in the context, and
// returns the handle prepared.
func open(t *testing.T, p *Plugin, name string, conn *server.ConnInfo) (server.LayerHandle, error) {
	t.Helper()
	ctx := context.Background()
	if conn != nil {
		ctx = server.WithConnInfo(ctx, *conn)
	}
	h, err := server.PluginLayer("info", p).Open(ctx, server.OpenRequest{ExportName: name})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h, nil
}

func mustOpen(t *testing.T, p *Plugin, name string, conn *server.ConnInfo) server.LayerHandle {
	t.Helper()
	h, err := open(t, p, name, conn)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	return h
}

// contents reads the whole disk.
func contents(t *testing.T, h server.LayerHandle) []byte {
	t.Helper()
	ctx := context.Background()
	size, err := h.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, size)
	if err := h.ReadAt(ctx, p, 0, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExportName(t *testing.T) {
	p := newPlugin(t, "") // the default mode
	for _, name := range []string{"", "hello", "héllo wörld/with/slashes", string(bytes.Repeat([]byte{'x'}, 4096))} {
		if got := contents(t, mustOpen(t, p, name, nil)); string(got) != name {
			t.Errorf("export %q reads as %q", name, got)
		}
	}
	h := mustOpen(t, p, "hello", nil)
	part := make([]byte, 3)
	if err := h.ReadAt(context.Background(), part, 1, 0); err != nil || string(part) != "ell" {
		t.Errorf("3 bytes at 1 of hello: %q, %v", part, err)
	}
}

func TestBase64ExportName(t *testing.T) {
	p := newPlugin(t, ModeBase64ExportName)
	for name, want := range map[string]string{
		"aGVsbG8=":     "hello",
		"aGVs\nbG8=":   "hello", // line breaks are ignored, as by nbdkit's decoder
		"":             "",
		"AAEC/wD+/w==": "\x00\x01\x02\xff\x00\xfe\xff",
	} {
		if got := contents(t, mustOpen(t, p, name, nil)); string(got) != want {
			t.Errorf("export %q reads as %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"aGVsbG8", "!!!", "hello"} {
		_, err := open(t, p, name, nil)
		if server.ErrnoOf(err) != protocol.EINVAL {
			t.Errorf("export %q: error %v, want EINVAL", name, err)
		}
	}
}

func TestAddress(t *testing.T) {
	p := newPlugin(t, ModeAddress)
	for _, tt := range []struct {
		remote net.Addr
		want   string
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 41028}, "192.0.2.1:41028"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 58912}, "[::1]:58912"},
		{&net.UnixAddr{Name: "/secret/path/nbd.sock", Net: "unix"}, "unix"},
		{&net.UnixAddr{Name: "", Net: "unix"}, "unix"},
		{server.VsockAddr{CID: 3, Port: 10809}, "3:10809"},
	} {
		h := mustOpen(t, p, "", &server.ConnInfo{Remote: tt.remote})
		if got := contents(t, h); string(got) != tt.want {
			t.Errorf("address %v reads as %q, want %q", tt.remote, got, tt.want)
		}
	}
	if _, err := open(t, p, "", nil); err == nil {
		t.Error("opened mode=address without a connection")
	}
}

// decodeTime decodes the 12 bytes of the time modes.
func decodeTime(b []byte) (seconds int64, micros uint32) {
	return int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:])
}

func TestTimeModes(t *testing.T) {
	wall := time.Date(2019, 9, 28, 9, 15, 51, 123456789, time.UTC)
	start := wall.Add(-90 * time.Minute)
	accepted := wall.Add(-2*time.Second - 250*time.Millisecond)
	tests := []struct {
		mode    Mode
		seconds int64
		micros  uint32
	}{
		{ModeTime, wall.Unix(), 123456},
		{ModeUptime, 90 * 60, 0},
		{ModeConnTime, 2, 250000},
	}
	for _, tt := range tests {
		p := newPlugin(t, tt.mode)
		p.started = start
		now := wall
		p.now = func() time.Time { return now }
		h := mustOpen(t, p, "", &server.ConnInfo{Accepted: accepted, Remote: &net.UnixAddr{}})
		got := contents(t, h)
		if len(got) != 12 {
			t.Fatalf("mode=%s: %d bytes, want 12", tt.mode, len(got))
		}
		if seconds, micros := decodeTime(got); seconds != tt.seconds || micros != tt.micros {
			t.Errorf("mode=%s: %d s %d µs, want %d s %d µs", tt.mode, seconds, micros, tt.seconds, tt.micros)
		}
		// A read of part of the disk reads the clock afresh: the microseconds alone.
		now = wall.Add(time.Microsecond)
		part := make([]byte, 4)
		if err := h.ReadAt(context.Background(), part, 8, 0); err != nil {
			t.Fatal(err)
		}
		if micros := binary.BigEndian.Uint32(part); micros != tt.micros+1 {
			t.Errorf("mode=%s: the microseconds read alone are %d, want %d", tt.mode, micros, tt.micros+1)
		}
	}
}

// TestRealClock reads the time modes with the real clock: uptime and connection time
// are small and grow, the time is now.
func TestRealClock(t *testing.T) {
	for _, mode := range []Mode{ModeTime, ModeUptime, ModeConnTime} {
		p := newPlugin(t, mode)
		before := time.Now()
		h := mustOpen(t, p, "", &server.ConnInfo{Accepted: before})
		first, _ := decodeTime(contents(t, h))
		time.Sleep(1100 * time.Millisecond / 10) // enough for the microseconds to move
		again := contents(t, h)
		seconds, micros := decodeTime(again)
		elapsed := time.Duration(seconds)*time.Second + time.Duration(micros)*time.Microsecond
		switch mode {
		case ModeTime:
			if d := time.Since(time.Unix(seconds, int64(micros)*1000)); d < 0 || d > time.Minute || first > seconds {
				t.Errorf("mode=time: %d s %d µs is not now", seconds, micros)
			}
		default:
			if elapsed < 100*time.Millisecond || elapsed > time.Minute {
				t.Errorf("mode=%s: %v elapsed after a sleep of 110ms", mode, elapsed)
			}
		}
	}
}

func TestCapabilitiesMatchNbdkit(t *testing.T) {
	for _, tt := range []struct {
		mode      Mode
		multiConn bool
	}{
		{ModeExportName, true}, {ModeBase64ExportName, true},
		{ModeAddress, false}, {ModeTime, false}, {ModeUptime, false}, {ModeConnTime, false},
	} {
		h := mustOpen(t, newPlugin(t, tt.mode), "", &server.ConnInfo{Remote: &net.UnixAddr{}, Accepted: time.Now()})
		caps, err := h.Capabilities(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// What nbdinfo shows of nbdkit's info plugin: read-only, cache, and
		// multi-conn where every connection sees the same bytes.
		if want := (server.Capabilities{MultiConn: tt.multiConn, Cache: server.CacheNative}); caps != want {
			t.Errorf("mode=%s: capabilities\n got %+v\nwant %+v", tt.mode, caps, want)
		}
		if err := h.WriteAt(context.Background(), []byte{0}, 0, 0); err == nil {
			t.Errorf("mode=%s: a write succeeded", tt.mode)
		}
	}
}

func TestNewRefusesUnknownModes(t *testing.T) {
	if _, err := New(Options{Mode: "nonsense"}); err == nil {
		t.Error("New accepted mode nonsense")
	}
}

func TestDumpPlugin(t *testing.T) {
	var b bytes.Buffer
	newPlugin(t, "").DumpPlugin(&b)
	if b.String() != "info_address=yes\ninfo_base64=yes\n" {
		t.Errorf("DumpPlugin wrote %q", b.String())
	}
}
