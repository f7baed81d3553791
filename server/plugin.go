package server

import (
	"context"
	"io"
)

// A Plugin is a source of exports. It is made once per process from its parameters (see
// [PluginSpec.New]) and opens a [Handle] for each client connection.
//
// Beyond Open, a plugin may implement any of the optional plugin interfaces of this package
// ([ThreadModeler], [Readier], [Preconnecter], [ExportLister], [DefaultExporter], [Cleaner],
// [PluginDumper]); the server discovers them by type assertion, as net/http discovers
// [net/http.Flusher].
type Plugin interface {
	// Open opens the export the client asked for. The context carries the connection's
	// [ConnInfo]. Open may return an error to refuse the client.
	Open(ctx context.Context, req OpenRequest) (Handle, error)
}

// OpenRequest says what a client asked to open.
type OpenRequest struct {
	// ExportName is the name the client asked for, after the default export was resolved.
	ExportName string
	// ReadOnly is true when the server will not let this connection write, whatever the
	// plugin can do (-r, or a filter that asked for it). A plugin may open read-only files.
	ReadOnly bool
}

// A Handle is one connection's view of an export. Size and ReadAt are all that is required;
// every other capability is an optional interface the handle may implement: [Writer],
// [Flusher], [Trimmer], [Zeroer], [Extenter], [Cacher], [BlockSizer], [Describer],
// [CapabilityOverrider] and [io.Closer] (called when the connection ends, after every
// request has been answered).
//
// Unless the plugin's thread model says otherwise ([ThreadModeler]), the methods of a handle
// are called concurrently.
type Handle interface {
	// Size returns the size of the export in bytes. It is called once per connection,
	// after Open.
	Size(ctx context.Context) (int64, error)
	// ReadAt fills p completely with the bytes at off, or returns an error. off and
	// len(p) are within the export. The server owns p: ReadAt must not keep it.
	ReadAt(ctx context.Context, p []byte, off int64) error
}

// Writer is implemented by handles that can be written. Without it the export is read-only.
type Writer interface {
	// WriteAt writes all of p at off. flags may hold [FlagFUA] when the handle answers
	// [FUANative]. WriteAt must not modify p, even temporarily (the server writes zeroes
	// from a buffer shared by all connections), and must not keep p after it returns.
	WriteAt(ctx context.Context, p []byte, off int64, flags Flags) error
}

// Flusher is implemented by handles that can commit written data to stable storage.
type Flusher interface {
	Flush(ctx context.Context, flags Flags) error
}

// Trimmer is implemented by handles that can discard a range (the client no longer needs
// its contents). flags may hold [FlagFUA].
type Trimmer interface {
	Trim(ctx context.Context, off, length int64, flags Flags) error
}

// Zeroer is implemented by handles that can write zeroes efficiently. flags may hold
// [FlagFUA], [FlagMayTrim] (the range may be trimmed as long as it reads back as zeroes)
// and [FlagFastZero] (fail with ENOTSUP rather than do it slowly). A handle without Zeroer
// gets zeroes written by WriteAt.
type Zeroer interface {
	Zero(ctx context.Context, off, length int64, flags Flags) error
}

// Extenter is implemented by handles that can say which ranges are holes or read as
// zeroes. Extents adds extents starting at off to e, covering at least one byte of the
// range and at most its whole length (more is cut off by the server); flags may hold
// [FlagReqOne], after which one extent is enough. A handle without Extenter reports the
// whole export as allocated data.
type Extenter interface {
	Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error
}

// Cacher is implemented by handles that can prefetch a range into a cache.
type Cacher interface {
	Cache(ctx context.Context, off, length int64, flags Flags) error
}

// BlockSizer is implemented by handles with block size constraints.
type BlockSizer interface {
	BlockSize(ctx context.Context) (BlockSize, error)
}

// Describer is implemented by handles that have a human-readable description of their
// export, sent to clients that ask with NBD_INFO_DESCRIPTION.
type Describer interface {
	ExportDescription(ctx context.Context) (string, error)
}

// CapabilityOverrider is implemented by handles whose capabilities depend on more than the
// interfaces they implement, for example on the connection or on how a file was opened.
// The server fills c with what the implemented interfaces imply (see [Capabilities]) and
// then calls Capabilities once per connection, which may change any field. Asking for a
// capability the handle has no method for is an error.
type CapabilityOverrider interface {
	Capabilities(ctx context.Context, c *Capabilities) error
}

// ThreadModeler is implemented by plugins that cannot serve requests in parallel. Without
// it a plugin is [Parallel].
type ThreadModeler interface {
	ThreadModel() ThreadModel
}

// Readier is implemented by plugins with work to do after their configuration is complete
// and before the server accepts connections (nbdkit's get_ready).
type Readier interface {
	GetReady(ctx context.Context) error
}

// Preconnecter is implemented by plugins that vet a connection before its handshake. An
// error drops the connection.
type Preconnecter interface {
	Preconnect(ctx context.Context, info ConnInfo) error
}

// ExportLister is implemented by plugins that serve more than one export. Without it the
// export list holds the default export alone.
type ExportLister interface {
	ListExports(ctx context.Context, readOnly bool) ([]Export, error)
}

// DefaultExporter is implemented by plugins whose default export (the one a client gets by
// asking for "") has a name of its own. Without it the default export's name is "".
type DefaultExporter interface {
	DefaultExport(ctx context.Context, readOnly bool) (string, error)
}

// Cleaner is implemented by plugins with work to do when the server shuts down, after the
// last connection is closed.
type Cleaner interface {
	Cleanup(ctx context.Context)
}

// PluginDumper is implemented by plugins with more to say in `gonbd --dump-plugin`. Each
// line written to w is a key=value pair.
type PluginDumper interface {
	DumpPlugin(w io.Writer)
}

// Export names one export in an export list.
type Export struct {
	Name        string
	Description string
}

// PluginSpec describes a plugin to the command line: its name, its parameters and how to
// make it. It is what a plugin module exports, and what the gonbd command links.
type PluginSpec struct {
	// Name is what users type: gonbd NAME.
	Name string
	// Version is the plugin's version, shown by --dump-plugin.
	Version string
	// Description is a one-line description, shown by --help.
	Description string
	// MagicConfigKey is the parameter a bare value on the command line is given to: with
	// "size", `gonbd memory 1G` means `gonbd memory size=1G`. Empty means none.
	MagicConfigKey string
	// ConfigHelp describes the parameters, one "key=VALUE  meaning" per line, shown by
	// `gonbd NAME --help`.
	ConfigHelp string
	// New makes the plugin from its parameters. It must consume every parameter it
	// understands (see [Params]); the caller refuses parameters left unconsumed.
	New func(p *Params) (Plugin, error)
}
