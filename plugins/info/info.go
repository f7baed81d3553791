package info

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// A Mode is what the disk holds.
type Mode string

// The modes, nbdkit's.
const (
	// ModeExportName serves the export name the client asked for, as bytes.
	ModeExportName Mode = "exportname"
	// ModeBase64ExportName serves the export name decoded from base64, so that a
	// client can send any bytes.
	ModeBase64ExportName Mode = "base64exportname"
	// ModeAddress serves the client's address as text: "127.0.0.1:40000" or
	// "[::1]:40000" over TCP, "unix" over a Unix socket (not to reveal the socket's
	// path), "CID:PORT" over vsock.
	ModeAddress Mode = "address"
	// ModeTime serves the server's wall-clock time (see [Options] for the format).
	ModeTime Mode = "time"
	// ModeUptime serves the time since the plugin was made.
	ModeUptime Mode = "uptime"
	// ModeConnTime serves the time since the server accepted the connection.
	ModeConnTime Mode = "conntime"
)

// modeNames lists the modes in the order the manual gives them, for error messages.
const modeNames = "exportname, base64exportname, address, time, uptime, conntime"

func (m Mode) valid() bool {
	switch m {
	case ModeExportName, ModeBase64ExportName, ModeAddress, ModeTime, ModeUptime, ModeConnTime:
		return true
	}
	return false
}

// Options configure the plugin. The zero value serves the export name.
//
// The time modes serve 12 bytes: seconds as a big-endian 64-bit integer, then
// microseconds as a big-endian 32-bit integer. Time is read afresh for each read
// request, so a client must read all 12 bytes at once to see one instant. Uptime and
// connection time use the monotonic clock: they never jump when the wall clock is
// set.
type Options struct {
	// Mode is what the disk holds; "" means ModeExportName.
	Mode Mode
}

// Plugin serves a read-only disk of information about the client or the server.
type Plugin struct {
	mode    Mode
	started time.Time
	now     func() time.Time // time.Now, but for tests
}

// New makes the plugin as opts describe, or explains why it cannot. Uptime counts
// from here.
func New(opts Options) (*Plugin, error) {
	mode := opts.Mode
	if mode == "" {
		mode = ModeExportName
	}
	if !mode.valid() {
		return nil, fmt.Errorf("unknown mode %q (the modes are %s)", mode, modeNames)
	}
	return &Plugin{mode: mode, started: time.Now(), now: time.Now}, nil
}

// Open makes the connection's disk. Every export name is accepted; in the
// export-name modes it is the disk, and in base64exportname one that is not base64
// fails the connection with EINVAL (the client is told there is no such export).
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	switch p.mode {
	case ModeExportName:
		return &bytesHandle{data: []byte(req.ExportName), multiConn: true}, nil
	case ModeBase64ExportName:
		data, err := base64.StdEncoding.DecodeString(req.ExportName)
		if err != nil {
			return nil, server.Errorf(syscall.EINVAL, "export name %q is not base64: %w", req.ExportName, err)
		}
		return &bytesHandle{data: data, multiConn: true}, nil
	case ModeAddress:
		conn, ok := server.ConnInfoFrom(ctx)
		if !ok || conn.Remote == nil {
			return nil, server.Errorf(syscall.EINVAL, "mode=address: the client's address is unknown")
		}
		return &bytesHandle{data: []byte(addressText(conn))}, nil
	case ModeTime:
		return &clockHandle{now: p.now}, nil
	case ModeUptime:
		return &clockHandle{now: p.now, since: p.started}, nil
	default: // ModeConnTime
		since := p.now()
		if conn, ok := server.ConnInfoFrom(ctx); ok && !conn.Accepted.IsZero() {
			since = conn.Accepted
		}
		return &clockHandle{now: p.now, since: since}, nil
	}
}

// DumpPlugin writes what `gonbd info --dump-plugin` adds, with nbdkit's keys: both
// modes that nbdkit may lack in a build are always here.
func (p *Plugin) DumpPlugin(w io.Writer) {
	fmt.Fprintln(w, "info_address=yes")
	fmt.Fprintln(w, "info_base64=yes")
}

// bytesHandle serves bytes fixed when the connection opened.
type bytesHandle struct {
	data []byte
	// multiConn is whether every connection to the same export sees the same
	// bytes: true for export names, false for addresses.
	multiConn bool
}

func (h *bytesHandle) Size(ctx context.Context) (int64, error) { return int64(len(h.data)), nil }

func (h *bytesHandle) ReadAt(ctx context.Context, p []byte, off int64) error {
	copy(p, h.data[off:])
	return nil
}

func (h *bytesHandle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

func (h *bytesHandle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.MultiConn = h.multiConn
	c.Cache = server.CacheNative
	return nil
}

// clockTextSize is the size of the time modes' disk: 8 bytes of seconds, 4 of
// microseconds.
const clockTextSize = 12

// clockHandle serves a time: the wall clock's when since is zero, else the time
// elapsed since since. Each connection sees its own time, so there is no multi-conn.
type clockHandle struct {
	now   func() time.Time
	since time.Time
}

func (h *clockHandle) Size(ctx context.Context) (int64, error) { return clockTextSize, nil }

func (h *clockHandle) ReadAt(ctx context.Context, p []byte, off int64) error {
	var seconds, micros int64
	now := h.now()
	if h.since.IsZero() {
		seconds, micros = now.Unix(), int64(now.Nanosecond())/1000
	} else {
		elapsed := now.Sub(h.since)
		seconds, micros = int64(elapsed/time.Second), int64(elapsed%time.Second/time.Microsecond)
	}
	var buf [clockTextSize]byte
	binary.BigEndian.PutUint64(buf[0:8], uint64(seconds))
	binary.BigEndian.PutUint32(buf[8:12], uint32(micros))
	copy(p, buf[off:])
	return nil
}

func (h *clockHandle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

func (h *clockHandle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.Cache = server.CacheNative
	return nil
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.PluginDumper        = (*Plugin)(nil)
	_ server.Cacher              = (*bytesHandle)(nil)
	_ server.CapabilityOverrider = (*bytesHandle)(nil)
	_ server.Cacher              = (*clockHandle)(nil)
	_ server.CapabilityOverrider = (*clockHandle)(nil)
)
