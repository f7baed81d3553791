package qcow2dec

import (
	"context"
	"log/slog"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter.
type Options struct {
	// Logger receives the filter's messages. Default: none are logged.
	Logger *slog.Logger
}

// New returns a layer that serves the virtual disk of the qcow2 image next serves,
// read-only. The image's header is read when a client opens the export.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, log: opts.Logger}, nil
}

type filter struct {
	server.PassThrough
	log *slog.Logger
	decoders
}

func (f *filter) Name() string { return "qcow2dec" }

// Open opens the image read-only: the filter never writes to it.
func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	req.ReadOnly = true
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// handle serves one connection. Every connection reads the header and the L1 table
// again and has caches of its own: the plugin may serve different images to
// different connections.
type handle struct {
	server.PassThroughHandle
	f   *filter
	img *image // set by Prepare
}

func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, true); err != nil {
		return err
	}
	img, err := openImage(ctx, h.f, h.Next)
	if err != nil {
		return err
	}
	if img.h.corrupt {
		h.f.log.Warn("QEMU marked the qcow2 image corrupt; reading it anyway")
	}
	h.f.log.Debug("opened a qcow2 image", "version", img.h.version, "virtual_size", img.h.size,
		"cluster_size", img.h.clusterSize(), "extended_l2", img.h.extendedL2,
		"compression", map[byte]string{compressionZlib: "zlib", compressionZstd: "zstd"}[img.h.compression])
	h.img = img
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.img.h.size, nil }

// BlockSize sets no constraints: the virtual disk can be read at any offset, whatever
// the file's constraints.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	return server.BlockSize{}, nil
}

// Capabilities: read-only, with extents from the image's tables; cache requests
// decompress clusters ahead of reads.
func (h *handle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	next, err := h.Next.Capabilities(ctx)
	if err != nil {
		return next, err
	}
	return server.Capabilities{Flush: next.Flush, Extents: true, MultiConn: true, Cache: server.CacheNative,
		Rotational: next.Rotational}, nil
}

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.img.readAt(ctx, p, off)
}

func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	return h.img.extents(ctx, off, length, e)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.img.prefetch(ctx, off, length)
}
