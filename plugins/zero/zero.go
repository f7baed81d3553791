package zero

import (
	"context"

	"github.com/gonbd/gonbd/server"
)

// Plugin serves an empty disk: zero bytes long, read-only.
type Plugin struct{}

// New returns the plugin. An empty disk has nothing to configure.
func New() *Plugin { return &Plugin{} }

// Open returns a handle on the empty disk, whatever export name the client asked for.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return handle{}, nil
}

// handle is one connection's view of the empty disk. The server never calls ReadAt
// or Cache, whose ranges would have to lie within zero bytes; they exist because a
// handle must read, and so that clients are offered what nbdkit offers them.
type handle struct{}

func (handle) Size(ctx context.Context) (int64, error) { return 0, nil }

func (handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	clear(p)
	return nil
}

func (handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return nil
}

// Capabilities says what nbdkit's zero plugin says: every connection sees the same
// (empty) disk, and caching it costs nothing.
func (handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.MultiConn = true
	c.Cache = server.CacheNative
	return nil
}

// The interfaces a handle implements decide what the server offers clients; these
// assertions keep a changed signature from silently dropping a capability.
var (
	_ server.Plugin              = (*Plugin)(nil)
	_ server.Cacher              = handle{}
	_ server.CapabilityOverrider = handle{}
)
