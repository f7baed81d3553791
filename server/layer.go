package server

import "context"

// A Layer is the complete shape of a plugin as the server and filters see it: every
// operation present and every capability answered explicitly. The server adapts each
// plugin into a Layer once ([PluginLayer]); a filter receives the next Layer and returns
// its own.
//
// A filter embeds [PassThrough] (and its handles embed [PassThroughHandle]) and overrides
// only what it changes, so that an operation added to Layer later passes through every
// existing filter unchanged.
type Layer interface {
	// Name is the plugin's or filter's name, for logs.
	Name() string
	ThreadModel() ThreadModel
	GetReady(ctx context.Context) error
	Preconnect(ctx context.Context, info ConnInfo) error
	ListExports(ctx context.Context, readOnly bool) ([]Export, error)
	DefaultExport(ctx context.Context, readOnly bool) (string, error)
	Open(ctx context.Context, req OpenRequest) (LayerHandle, error)
	Cleanup(ctx context.Context)
}

// A LayerHandle is one connection's complete view of an export through a [Layer].
//
// The server calls Prepare once after Open and before any other method, and Finalize once
// before Close (nbdkit's prepare and finalize). Below the server's own checks, offsets and
// lengths are within the export, writes happen only when Capabilities said Write, and
// flags hold only what Capabilities allowed.
type LayerHandle interface {
	Prepare(ctx context.Context, readOnly bool) error
	Finalize(ctx context.Context) error
	Close(ctx context.Context) error

	Size(ctx context.Context) (int64, error)
	BlockSize(ctx context.Context) (BlockSize, error)
	Capabilities(ctx context.Context) (Capabilities, error)
	ExportDescription(ctx context.Context) (string, error)

	ReadAt(ctx context.Context, p []byte, off int64, flags Flags) error
	WriteAt(ctx context.Context, p []byte, off int64, flags Flags) error
	Flush(ctx context.Context, flags Flags) error
	Trim(ctx context.Context, off, length int64, flags Flags) error
	Zero(ctx context.Context, off, length int64, flags Flags) error
	Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error
	Cache(ctx context.Context, off, length int64, flags Flags) error
}

// PassThrough is a [Layer] that hands every call to Next. Filters embed it.
type PassThrough struct {
	Next Layer
}

func (l PassThrough) Name() string             { return l.Next.Name() }
func (l PassThrough) ThreadModel() ThreadModel { return l.Next.ThreadModel() }
func (l PassThrough) GetReady(ctx context.Context) error {
	return l.Next.GetReady(ctx)
}
func (l PassThrough) Preconnect(ctx context.Context, info ConnInfo) error {
	return l.Next.Preconnect(ctx, info)
}
func (l PassThrough) ListExports(ctx context.Context, readOnly bool) ([]Export, error) {
	return l.Next.ListExports(ctx, readOnly)
}
func (l PassThrough) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	return l.Next.DefaultExport(ctx, readOnly)
}
func (l PassThrough) Open(ctx context.Context, req OpenRequest) (LayerHandle, error) {
	return l.Next.Open(ctx, req)
}
func (l PassThrough) Cleanup(ctx context.Context) { l.Next.Cleanup(ctx) }

// PassThroughHandle is a [LayerHandle] that hands every call to Next. Filter handles
// embed it.
type PassThroughHandle struct {
	Next LayerHandle
}

func (h PassThroughHandle) Prepare(ctx context.Context, readOnly bool) error {
	return h.Next.Prepare(ctx, readOnly)
}
func (h PassThroughHandle) Finalize(ctx context.Context) error { return h.Next.Finalize(ctx) }
func (h PassThroughHandle) Close(ctx context.Context) error    { return h.Next.Close(ctx) }
func (h PassThroughHandle) Size(ctx context.Context) (int64, error) {
	return h.Next.Size(ctx)
}
func (h PassThroughHandle) BlockSize(ctx context.Context) (BlockSize, error) {
	return h.Next.BlockSize(ctx)
}
func (h PassThroughHandle) Capabilities(ctx context.Context) (Capabilities, error) {
	return h.Next.Capabilities(ctx)
}
func (h PassThroughHandle) ExportDescription(ctx context.Context) (string, error) {
	return h.Next.ExportDescription(ctx)
}
func (h PassThroughHandle) ReadAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	return h.Next.ReadAt(ctx, p, off, flags)
}
func (h PassThroughHandle) WriteAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	return h.Next.WriteAt(ctx, p, off, flags)
}
func (h PassThroughHandle) Flush(ctx context.Context, flags Flags) error {
	return h.Next.Flush(ctx, flags)
}
func (h PassThroughHandle) Trim(ctx context.Context, off, length int64, flags Flags) error {
	return h.Next.Trim(ctx, off, length, flags)
}
func (h PassThroughHandle) Zero(ctx context.Context, off, length int64, flags Flags) error {
	return h.Next.Zero(ctx, off, length, flags)
}
func (h PassThroughHandle) Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error {
	return h.Next.Extents(ctx, off, length, flags, e)
}
func (h PassThroughHandle) Cache(ctx context.Context, off, length int64, flags Flags) error {
	return h.Next.Cache(ctx, off, length, flags)
}

// FilterSpec describes a filter to the command line, as [PluginSpec] describes a plugin.
type FilterSpec struct {
	Name        string
	Version     string
	Description string
	// ConfigHelp describes the filter's parameters, one "key=VALUE  meaning" per line.
	ConfigHelp string
	// New makes the filter in front of next. It consumes the parameters it understands
	// from p; the others go on to the layers behind it, as in nbdkit (see [Params]).
	// Because a filter reads its parameters before the layers behind it read theirs,
	// New may keep next but must not call it: next is usable from GetReady on.
	New func(p *Params, next Layer) (Layer, error)
}
