package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/protocol"
)

// emulationChunk is the most the adapter writes or reads at once when it emulates zero
// (by writing zeroes) or cache (by reading), unless the handle's maximum block size is
// smaller: large enough to amortise the calls, small enough that a cache request does
// not pin much memory.
const emulationChunk = 1 << 20

// zeroes is the source of the writes that emulate zero requests. It is never written:
// Writer.WriteAt may not modify its argument, as io.Writer may not.
var zeroes [emulationChunk]byte

// errFastZeroEmulated is returned when a client asks for a fast zero that could only be
// emulated. Clients such as qemu-img ask on purpose to learn whether zeroing is cheap, so
// this answer must not allocate.
var errFastZeroEmulated = &Error{
	Errno: syscall.ENOTSUP,
	Err:   errors.New("fast zero refused: the plugin has no Zero method, and writing zeroes is not fast"),
}

// PluginLayer adapts a plugin into the complete Layer shape, doing every emulation and
// check in one place. name is used in logs and errors.
//
// The layer answers what the plugin does not implement with nbdkit's defaults: thread
// model [Parallel], no work to get ready or to vet connections, one export (the default
// one, whose name is "" unless the plugin is a [DefaultExporter]), nothing to clean up.
//
// Its handles derive their [Capabilities] from the interfaces the plugin's handle
// implements (then let a [CapabilityOverrider] change them) and compute them and the size
// once, in Prepare. They emulate what the handle lacks: zero by writing zeroes (also when
// its Zero fails with ENOTSUP, unless the client asked for a fast zero, which fails with
// ENOTSUP at once), FUA by a flush after the request, cache by reading and discarding,
// and extents as one data extent. They refuse writes to a read-only handle with EROFS
// (EPERM on the wire) and requests for capabilities they did not advertise with EINVAL.
// A request outside the export, which the server refuses before any layer sees it, means
// a filter above is broken: it fails with EIO and a message saying so. A plugin method
// that panics fails its request with a [*PanicError] (EIO) holding the stack; panics in
// ThreadModel and Cleanup, which cannot return an error, are not recovered.
//
// On success, requests allocate nothing beyond what the plugin allocates.
func PluginLayer(name string, p Plugin) Layer {
	return &pluginLayer{
		name:   name,
		plugin: p,
		cacheBuffers: sync.Pool{New: func() any {
			buf := make([]byte, emulationChunk)
			return &buf
		}},
	}
}

type pluginLayer struct {
	name   string
	plugin Plugin
	// cacheBuffers holds the *[]byte that emulated cache requests read into.
	cacheBuffers sync.Pool
}

func (l *pluginLayer) Name() string { return l.name }

func (l *pluginLayer) ThreadModel() ThreadModel {
	tm, ok := l.plugin.(ThreadModeler)
	if !ok {
		return Parallel
	}
	// Out-of-range answers get the nearest meaningful model rather than confusing the
	// engine's comparisons.
	return min(max(tm.ThreadModel(), SerializeConnections), Parallel)
}

func (l *pluginLayer) GetReady(ctx context.Context) (err error) {
	defer recoverPanic(&err, l.name, "GetReady")
	if r, ok := l.plugin.(Readier); ok {
		if err := r.GetReady(ctx); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	return nil
}

func (l *pluginLayer) Preconnect(ctx context.Context, info ConnInfo) (err error) {
	defer recoverPanic(&err, l.name, "Preconnect")
	if p, ok := l.plugin.(Preconnecter); ok {
		return p.Preconnect(ctx, info)
	}
	return nil
}

func (l *pluginLayer) ListExports(ctx context.Context, readOnly bool) (exports []Export, err error) {
	defer recoverPanic(&err, l.name, "ListExports")
	if lister, ok := l.plugin.(ExportLister); ok {
		return lister.ListExports(ctx, readOnly)
	}
	name, err := l.DefaultExport(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	return []Export{{Name: name}}, nil
}

func (l *pluginLayer) DefaultExport(ctx context.Context, readOnly bool) (name string, err error) {
	defer recoverPanic(&err, l.name, "DefaultExport")
	if d, ok := l.plugin.(DefaultExporter); ok {
		return d.DefaultExport(ctx, readOnly)
	}
	return "", nil
}

func (l *pluginLayer) Open(ctx context.Context, req OpenRequest) (lh LayerHandle, err error) {
	defer recoverPanic(&err, l.name, "Open")
	h, err := l.plugin.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, Errorf(syscall.EIO, "%s: Open returned neither a handle nor an error", l.name)
	}
	ph := &pluginHandle{layer: l, handle: h, readOnly: req.ReadOnly}
	ph.writer, _ = h.(Writer)
	ph.flusher, _ = h.(Flusher)
	ph.trimmer, _ = h.(Trimmer)
	ph.zeroer, _ = h.(Zeroer)
	ph.extenter, _ = h.(Extenter)
	ph.cacher, _ = h.(Cacher)
	return ph, nil
}

func (l *pluginLayer) Cleanup(ctx context.Context) {
	if c, ok := l.plugin.(Cleaner); ok {
		c.Cleanup(ctx)
	}
}

// recoverPanic, deferred, turns a panic of the calling method into a *PanicError in
// *errp. It must be deferred directly: recover works only there.
func recoverPanic(errp *error, layer, op string) {
	if v := recover(); v != nil {
		*errp = &PanicError{Layer: layer, Op: op, Value: v, Stack: debug.Stack()}
	}
}

// pluginHandle is the LayerHandle of a plugin's Handle.
type pluginHandle struct {
	layer    *pluginLayer
	handle   Handle
	readOnly bool // what the plugin was opened with

	// The handle's optional interfaces, asserted once at Open; nil when not implemented.
	writer   Writer
	flusher  Flusher
	trimmer  Trimmer
	zeroer   Zeroer
	extenter Extenter
	cacher   Cacher

	// Computed by Prepare and only read afterwards, so that concurrent requests read
	// them without locking.
	prepared  bool
	size      int64
	caps      Capabilities
	blockSize BlockSize
	chunk     int64 // the largest emulated write or read, see emulationChunk
}

func (h *pluginHandle) name() string { return h.layer.name }

func (h *pluginHandle) Prepare(ctx context.Context, readOnly bool) (err error) {
	defer recoverPanic(&err, h.name(), "Prepare")
	size, err := h.handle.Size(ctx)
	if err != nil {
		return err
	}
	if size < 0 {
		return Errorf(syscall.EIO, "%s: Size returned a negative size (%d)", h.name(), size)
	}
	var bs BlockSize
	if sizer, ok := h.handle.(BlockSizer); ok {
		if bs, err = sizer.BlockSize(ctx); err != nil {
			return err
		}
		if err := bs.validate(); err != nil {
			return Errorf(syscall.EIO, "%s: %w", h.name(), err)
		}
	}
	caps, err := h.capabilities(ctx, readOnly || h.readOnly)
	if err != nil {
		return err
	}

	h.size, h.blockSize, h.caps = size, bs, caps
	h.chunk = emulationChunk
	if bs.Maximum != 0 && int64(bs.Maximum) < h.chunk {
		// Maximum is a multiple of Minimum, so the chunk stays aligned.
		h.chunk = int64(bs.Maximum)
	}
	h.prepared = true
	return nil
}

// capabilities derives the handle's capabilities as the Capabilities type's comment
// says, lets a CapabilityOverrider change them, and checks the result.
func (h *pluginHandle) capabilities(ctx context.Context, readOnly bool) (Capabilities, error) {
	var c Capabilities
	c.Write = h.writer != nil && !readOnly
	c.Flush = h.flusher != nil
	c.Trim = h.trimmer != nil && c.Write
	c.Zero = c.Write
	c.FastZero = c.Zero && h.zeroer == nil
	c.Extents = h.extenter != nil
	if h.flusher != nil {
		c.FUA = FUAEmulate
	}
	if h.cacher != nil {
		c.Cache = CacheNative
	}

	if o, ok := h.handle.(CapabilityOverrider); ok {
		if err := o.Capabilities(ctx, &c); err != nil {
			return Capabilities{}, err
		}
	}

	// What depends on writing goes when writing does, as in nbdkit, which does not
	// even ask a read-only plugin whether it can trim or zero.
	if readOnly {
		c.Write = false
	}
	if !c.Write {
		c.Trim, c.Zero, c.FUA = false, false, FUANone
	}
	if !c.Zero {
		c.FastZero = false
	}

	var missing string
	switch {
	case c.Write && h.writer == nil:
		missing = "Write without a WriteAt method (server.Writer)"
	case c.Flush && h.flusher == nil:
		missing = "Flush without a Flush method (server.Flusher)"
	case c.Trim && h.trimmer == nil:
		missing = "Trim without a Trim method (server.Trimmer)"
	case c.Extents && h.extenter == nil:
		missing = "Extents without an Extents method (server.Extenter)"
	case c.FUA == FUAEmulate && h.flusher == nil:
		missing = "FUAEmulate without a Flush method (server.Flusher)"
	case c.Cache == CacheNative && h.cacher == nil:
		missing = "CacheNative without a Cache method (server.Cacher)"
	case c.FUA < FUANone || c.FUA > FUANative:
		missing = "an unknown FUA mode"
	case c.Cache < CacheNone || c.Cache > CacheNative:
		missing = "an unknown cache mode"
	}
	if missing != "" {
		return Capabilities{}, Errorf(syscall.EIO, "%s: the handle's capabilities ask for %s", h.name(), missing)
	}
	return c, nil
}

func (h *pluginHandle) Finalize(ctx context.Context) error { return nil }

func (h *pluginHandle) Close(ctx context.Context) (err error) {
	defer recoverPanic(&err, h.name(), "Close")
	if c, ok := h.handle.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (h *pluginHandle) Size(ctx context.Context) (int64, error) {
	if !h.prepared {
		return 0, h.notPrepared("Size")
	}
	return h.size, nil
}

func (h *pluginHandle) BlockSize(ctx context.Context) (BlockSize, error) {
	if !h.prepared {
		return BlockSize{}, h.notPrepared("BlockSize")
	}
	return h.blockSize, nil
}

func (h *pluginHandle) Capabilities(ctx context.Context) (Capabilities, error) {
	if !h.prepared {
		return Capabilities{}, h.notPrepared("Capabilities")
	}
	return h.caps, nil
}

func (h *pluginHandle) ExportDescription(ctx context.Context) (desc string, err error) {
	defer recoverPanic(&err, h.name(), "ExportDescription")
	if d, ok := h.handle.(Describer); ok {
		return d.ExportDescription(ctx)
	}
	return "", nil
}

func (h *pluginHandle) ReadAt(ctx context.Context, p []byte, off int64, flags Flags) (err error) {
	defer recoverPanic(&err, h.name(), "ReadAt")
	if err := h.checkRange("ReadAt", off, int64(len(p))); err != nil {
		return err
	}
	if len(p) == 0 {
		return nil
	}
	return h.handle.ReadAt(ctx, p, off)
}

func (h *pluginHandle) WriteAt(ctx context.Context, p []byte, off int64, flags Flags) (err error) {
	defer recoverPanic(&err, h.name(), "WriteAt")
	if err := h.checkWrite("WriteAt", off, int64(len(p))); err != nil {
		return err
	}
	flags, flush, err := h.splitFUA("WriteAt", flags&FlagFUA)
	if err != nil || len(p) == 0 {
		return err
	}
	if err := h.writer.WriteAt(ctx, p, off, flags); err != nil {
		return err
	}
	return h.flushIf(ctx, flush)
}

func (h *pluginHandle) Flush(ctx context.Context, flags Flags) (err error) {
	defer recoverPanic(&err, h.name(), "Flush")
	if !h.prepared {
		return h.notPrepared("Flush")
	}
	if !h.caps.Flush {
		return h.notAdvertised("Flush")
	}
	return h.flusher.Flush(ctx, 0)
}

func (h *pluginHandle) Trim(ctx context.Context, off, length int64, flags Flags) (err error) {
	defer recoverPanic(&err, h.name(), "Trim")
	if err := h.checkWrite("Trim", off, length); err != nil {
		return err
	}
	if !h.caps.Trim {
		return h.notAdvertised("Trim")
	}
	flags, flush, err := h.splitFUA("Trim", flags&FlagFUA)
	if err != nil || length == 0 {
		return err
	}
	if err := h.trimmer.Trim(ctx, off, length, flags); err != nil {
		return err
	}
	return h.flushIf(ctx, flush)
}

func (h *pluginHandle) Zero(ctx context.Context, off, length int64, flags Flags) (err error) {
	defer recoverPanic(&err, h.name(), "Zero")
	if err := h.checkWrite("Zero", off, length); err != nil {
		return err
	}
	if !h.caps.Zero {
		return h.notAdvertised("Zero")
	}
	flags &= FlagFUA | FlagMayTrim | FlagFastZero
	if flags&FlagFastZero != 0 && !h.caps.FastZero {
		return h.notAdvertised("Zero with FlagFastZero")
	}
	if !h.caps.Trim {
		flags &^= FlagMayTrim // a handle that cannot trim is not asked to
	}
	flags, flush, err := h.splitFUA("Zero", flags)
	if err != nil || length == 0 {
		return err
	}

	if h.zeroer != nil {
		err := h.zeroer.Zero(ctx, off, length, flags)
		// As nbdkit does, a Zero that is not supported after all falls back to
		// writing zeroes, unless that is what a fast zero must not do.
		if err == nil || flags&FlagFastZero != 0 || ErrnoOf(err) != protocol.ENOTSUP {
			if err != nil {
				return err
			}
			return h.flushIf(ctx, flush)
		}
	} else if flags&FlagFastZero != 0 {
		return errFastZeroEmulated
	}

	for length > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(length, h.chunk)
		if err := h.writer.WriteAt(ctx, zeroes[:n], off, flags&FlagFUA); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return h.flushIf(ctx, flush)
}

func (h *pluginHandle) Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) (err error) {
	defer recoverPanic(&err, h.name(), "Extents")
	if err := h.checkRange("Extents", off, length); err != nil {
		return err
	}
	if length == 0 {
		return nil
	}
	if h.extenter == nil || !h.caps.Extents {
		return e.Add(off, length, ExtentData)
	}
	if err := h.extenter.Extents(ctx, off, length, flags&FlagReqOne, e); err != nil {
		return err
	}
	if len(e.Extents()) == 0 {
		return Errorf(syscall.EIO, "%s: Extents returned no extent for %d bytes at %d", h.name(), length, off)
	}
	return nil
}

func (h *pluginHandle) Cache(ctx context.Context, off, length int64, flags Flags) (err error) {
	defer recoverPanic(&err, h.name(), "Cache")
	if err := h.checkRange("Cache", off, length); err != nil {
		return err
	}
	switch h.caps.Cache {
	case CacheNative:
		if length == 0 {
			return nil
		}
		return h.cacher.Cache(ctx, off, length, 0)
	case CacheEmulate:
		return h.readAndDiscard(ctx, off, length)
	default:
		return h.notAdvertised("Cache")
	}
}

// readAndDiscard emulates a cache request by reading the range into a pooled buffer.
func (h *pluginHandle) readAndDiscard(ctx context.Context, off, length int64) error {
	bufp := h.layer.cacheBuffers.Get().(*[]byte)
	defer h.layer.cacheBuffers.Put(bufp)
	buf := *bufp
	for length > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(length, h.chunk, int64(len(buf)))
		if err := h.handle.ReadAt(ctx, buf[:n], off); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}

// splitFUA returns the flags to pass to the handle and whether to flush after the
// request, emulating FUA when the handle does not take it natively.
func (h *pluginHandle) splitFUA(op string, flags Flags) (Flags, bool, error) {
	if flags&FlagFUA == 0 {
		return flags, false, nil
	}
	switch h.caps.FUA {
	case FUANative:
		return flags, false, nil
	case FUAEmulate:
		return flags &^ FlagFUA, true, nil
	default:
		return 0, false, h.notAdvertised(op + " with FlagFUA")
	}
}

func (h *pluginHandle) flushIf(ctx context.Context, flush bool) error {
	if !flush {
		return nil
	}
	return h.flusher.Flush(ctx, 0)
}

// checkRange checks that Prepare was called and that [off, off+length) is within the
// export.
func (h *pluginHandle) checkRange(op string, off, length int64) error {
	if !h.prepared {
		return h.notPrepared(op)
	}
	if off < 0 || length < 0 || off > h.size-length {
		return Errorf(syscall.EIO,
			"%s: %s of %d bytes at %d is outside the export of %d bytes (a layer above should have refused it)",
			h.name(), op, length, off, h.size)
	}
	return nil
}

// checkWrite is checkRange for requests that change data, which a handle that cannot
// write refuses.
func (h *pluginHandle) checkWrite(op string, off, length int64) error {
	if err := h.checkRange(op, off, length); err != nil {
		return err
	}
	if !h.caps.Write {
		return Errorf(syscall.EROFS, "%s: %s on a read-only export", h.name(), op)
	}
	return nil
}

func (h *pluginHandle) notPrepared(op string) error {
	return Errorf(syscall.EIO, "%s: %s called before Prepare", h.name(), op)
}

func (h *pluginHandle) notAdvertised(op string) error {
	return Errorf(syscall.EINVAL, "%s: %s, which the export does not advertise", h.name(), op)
}
