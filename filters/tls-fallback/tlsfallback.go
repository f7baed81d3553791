package tlsfallback

import (
	"context"
	"errors"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// DefaultMessage is what plaintext clients read unless the tlsreadme parameter says
// otherwise, as in nbdkit.
const DefaultMessage = "This NBD server requires TLS authentication before it will serve useful data.\n"

// Size is the size of the export plaintext clients see: the message, padded with
// zeroes. A longer message is cut to it.
const Size = 512

// Spec describes the filter to the gonbd command line:
//
//	gonbd --tls=on --filter=tls-fallback PLUGIN [PLUGIN-ARGS...] [tlsreadme=MESSAGE]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "tls-fallback",
		Version:     moduleVersion(),
		Description: "TLS protection filter",
		ConfigHelp:  "tlsreadme=MESSAGE  What plaintext clients read instead of the plugin's data.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			return New(next, Options{Message: p.String("tlsreadme", DefaultMessage)}), nil
		},
	}
}

// Options configure the filter.
type Options struct {
	// Message is the content of the export plaintext clients see, cut or padded with
	// zeroes to [Size] bytes. Empty means [DefaultMessage].
	Message string
}

// New returns a layer that serves the layers behind it to clients in TLS only:
// plaintext clients see one read-only export of [Size] bytes holding the message,
// whatever export they ask for, and nothing behind the filter is opened or listed
// for them.
func New(next server.Layer, opts Options) server.Layer {
	f := &filter{PassThrough: server.PassThrough{Next: next}}
	if opts.Message == "" {
		opts.Message = DefaultMessage
	}
	copy(f.readme[:], opts.Message)
	return f
}

type filter struct {
	server.PassThrough
	readme [Size]byte
}

// errSerialized refuses a stack that serves one connection at a time: a plaintext
// client could hold that one connection forever and lock out every client in TLS.
var errSerialized = errors.New("tls-fallback: the layers behind this filter serve one connection at a time " +
	"(thread model serialize_connections), so a plaintext client holding its connection would starve " +
	"the clients in TLS")

func (f *filter) GetReady(ctx context.Context) error {
	if f.Next.ThreadModel() == server.SerializeConnections {
		return errSerialized
	}
	return f.Next.GetReady(ctx)
}

// secure reports whether the call is made for a connection in TLS. A call made outside
// any connection counts as plaintext: when in doubt, reveal nothing.
func secure(ctx context.Context) bool {
	info, ok := server.ConnInfoFrom(ctx)
	return ok && info.TLS
}

func (f *filter) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	if !secure(ctx) {
		return []server.Export{{Name: ""}}, nil
	}
	return f.Next.ListExports(ctx, readOnly)
}

func (f *filter) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	if !secure(ctx) {
		return "", nil
	}
	return f.Next.DefaultExport(ctx, readOnly)
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if !secure(ctx) {
		// The layers behind are not even opened: what their Open does (connect to a
		// remote server, take a lock) is not for unauthenticated clients to trigger.
		return &readmeHandle{readme: &f.readme}, nil
	}
	return f.Next.Open(ctx, req)
}

// readmeHandle is a plaintext connection's export: the message, read-only.
type readmeHandle struct {
	readme *[Size]byte
}

func (h *readmeHandle) Prepare(context.Context, bool) error { return nil }
func (h *readmeHandle) Finalize(context.Context) error      { return nil }
func (h *readmeHandle) Close(context.Context) error         { return nil }

func (h *readmeHandle) Size(context.Context) (int64, error) { return Size, nil }

func (h *readmeHandle) BlockSize(context.Context) (server.BlockSize, error) {
	return server.BlockSize{}, nil
}

// Capabilities are all false: read-only, no flush, no cache, no extents.
func (h *readmeHandle) Capabilities(context.Context) (server.Capabilities, error) {
	return server.Capabilities{}, nil
}

func (h *readmeHandle) ExportDescription(context.Context) (string, error) { return "", nil }

func (h *readmeHandle) ReadAt(_ context.Context, p []byte, off int64, _ server.Flags) error {
	if off < 0 || off > Size || int64(len(p)) > Size-off {
		return server.Errorf(syscall.EINVAL, "tls-fallback: read of %d bytes at %d beyond the %d-byte export", len(p), off, Size)
	}
	copy(p, h.readme[off:])
	return nil
}

// Extents reports the message as data, as a layer without extents would.
func (h *readmeHandle) Extents(_ context.Context, off, length int64, _ server.Flags, e *server.ExtentList) error {
	return e.Add(off, length, server.ExtentData)
}

// The server refuses writes to a read-only export before they get here; these answer
// a filter stacked above that calls anyway.
func (h *readmeHandle) WriteAt(context.Context, []byte, int64, server.Flags) error {
	return errReadOnly
}
func (h *readmeHandle) Flush(context.Context, server.Flags) error { return errReadOnly }
func (h *readmeHandle) Trim(context.Context, int64, int64, server.Flags) error {
	return errReadOnly
}
func (h *readmeHandle) Zero(context.Context, int64, int64, server.Flags) error {
	return errReadOnly
}
func (h *readmeHandle) Cache(context.Context, int64, int64, server.Flags) error {
	return server.Errorf(syscall.EINVAL, "tls-fallback: cache is not offered to plaintext clients")
}

var errReadOnly = server.Errorf(syscall.EROFS, "tls-fallback: plaintext clients get a read-only export")
