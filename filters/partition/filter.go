package partition

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gonbd/gonbd/server"
)

// Options say which partition to serve.
type Options struct {
	// Partition is the number of the partition, counting from 1. In an MBR table, 1 to
	// 4 are the primary partitions and 5 and up the logical partitions inside the
	// extended one; in a GPT table, N is entry N of the partition array. Required.
	Partition int
	// Logger receives the filter's messages. Default: none are logged.
	Logger *slog.Logger
}

// New returns a layer that serves partition opts.Partition of the disk next serves.
// The partition table is read when a client opens the export; a disk without one, or
// without that partition, fails the opening.
func New(next server.Layer, opts Options) (server.Layer, error) {
	if opts.Partition < 1 {
		return nil, fmt.Errorf("partition=%d: partitions are numbered from 1", opts.Partition)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}, nil
}

type filter struct {
	server.PassThrough
	opts Options
	// extentLists recycles the lists that extents of the next layer are collected in.
	extentLists sync.Pool
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

// handle serves the bytes [offset, offset+size) of the next layer's handle. The server
// keeps requests within size, so the offsets need no checks.
type handle struct {
	server.PassThroughHandle
	f            *filter
	offset, size int64
}

// Prepare finds the partition, after the layers behind have been prepared, as nbdkit
// does: the table may differ from one connection to the next.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	diskSize, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	d := disk{ctx: ctx, h: h.Next, size: diskSize, log: h.f.opts.Logger}
	p, err := d.findPartition(h.f.opts.Partition)
	if err != nil {
		return fmt.Errorf("partition=%d: %w", h.f.opts.Partition, err)
	}
	h.offset, h.size = p.offset, p.size
	h.f.opts.Logger.Debug("serving a partition", "partition", h.f.opts.Partition, "offset", p.offset, "size", p.size)
	return nil
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.ReadAt(ctx, p, h.offset+off, flags)
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.Next.WriteAt(ctx, p, h.offset+off, flags)
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Trim(ctx, h.offset+off, length, flags)
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Zero(ctx, h.offset+off, length, flags)
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Next.Cache(ctx, h.offset+off, length, flags)
}

// Extents asks the next layer about the same bytes of the disk and moves its answer
// back to the partition's offsets.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	inner, _ := h.f.extentLists.Get().(*server.ExtentList)
	if inner == nil {
		inner = new(server.ExtentList)
	}
	defer h.f.extentLists.Put(inner)
	inner.Reset(h.offset+off, h.offset+off+length)
	if err := h.Next.Extents(ctx, h.offset+off, length, flags, inner); err != nil {
		return err
	}
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset-h.offset, x.Length, x.Type); err != nil {
			return err
		}
	}
	return nil
}
