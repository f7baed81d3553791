package logfilter

import (
	"context"

	"sync/atomic"

	"github.com/gonbd/gonbd/server"
)

// A filter logs what passes through it in nbdkit's log filter format.
type filter struct {
	server.PassThrough
	opts Options
	out  *output // from GetReady on

	preconnects, listings atomic.Uint64 // ids of the calls outside connections
	// connections numbers the connections that opened the export, as nbdkit's log
	// filter does: a client that leaves before (a probe, a listing) takes no number.
	connections atomic.Uint64
}

func (f *filter) Name() string { return "log" }

func (f *filter) GetReady(ctx context.Context) error {
	out, err := f.opts.open()
	if err != nil {
		return err
	}
	f.out = out
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	f.out.message(kindPrint, 0, "Ready", 0, appendInt(nil, "thread_model", int64(f.Next.ThreadModel())))
	return nil
}

func (f *filter) Cleanup(ctx context.Context) {
	f.Next.Cleanup(ctx)
	if f.out != nil {
		if err := f.out.close(ctx); err != nil {
			f.opts.Logger.Error("log filter", "err", err)
		}
	}
}

func (f *filter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	id := f.preconnects.Add(1)
	f.out.message(kindEnter, 0, "Preconnect", id, appendBool(nil, "readonly", info.ReadOnly))
	err := f.Next.Preconnect(ctx, info)
	f.out.message(kindLeave, 0, "Preconnect", id, appendResult(nil, err))
	return err
}

func (f *filter) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	id := f.listings.Add(1)
	info, _ := server.ConnInfoFrom(ctx)
	b := appendBool(nil, "readonly", readOnly)
	b = appendBool(append(b, ' '), "tls", info.TLS)
	f.out.message(kindEnter, 0, "ListExports", id, b)
	exports, err := f.Next.ListExports(ctx, readOnly)
	b = b[:0]
	if err == nil {
		b = append(b, "exports=("...)
		for i, e := range exports {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendQuoted(b, e.Name)
		}
		b = append(b, ") "...)
	}
	f.out.message(kindLeave, 0, "ListExports", id, appendResult(b, err))
	return exports, err
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	info, _ := server.ConnInfoFrom(ctx)
	return &handle{
		PassThroughHandle: server.PassThroughHandle{Next: h},
		out:               f.out,
		conn:              f.connections.Add(1),
		tls:               info.TLS,
		export:            req.ExportName,
	}, nil
}

// A handle logs one connection's calls, numbering them from 1.
type handle struct {
	server.PassThroughHandle
	out    *output
	conn   uint64
	tls    bool
	export string
	ids    atomic.Uint64
}

// Prepare logs the connection with what the layers behind can do, in nbdkit's terms.
func (h *handle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	c, err := h.Next.Capabilities(ctx)
	if err != nil {
		return err
	}
	bs, err := h.Next.BlockSize(ctx)
	if err != nil {
		return err
	}
	b := appendQuoted(append([]byte(nil), "export="...), h.export)
	for _, field := range []struct {
		key   string
		value int64
		hex   bool
	}{
		{"tls", boolInt(h.tls), false},
		{"size", size, true},
		{"minsize", int64(bs.Minimum), true},
		{"prefsize", int64(bs.Preferred), true},
		{"maxsize", int64(bs.Maximum), true},
		{"write", boolInt(c.Write), false},
		{"flush", boolInt(c.Flush), false},
		{"rotational", boolInt(c.Rotational), false},
		{"trim", boolInt(c.Trim), false},
		{"zero", zeroMode(c), false},
		{"fua", int64(c.FUA), false},
		{"extents", boolInt(c.Extents), false},
		{"cache", int64(c.Cache), false},
		{"fast_zero", boolInt(c.FastZero), false},
	} {
		b = append(b, ' ')
		if field.hex {
			b = appendHex(b, field.key, uint64(field.value))
		} else {
			b = appendInt(b, field.key, field.value)
		}
	}
	h.out.message(kindPrint, h.conn, "Connect", 0, b)
	return nil
}

func (h *handle) Finalize(ctx context.Context) error {
	h.out.message(kindPrint, h.conn, "Disconnect", 0, appendInt(nil, "transactions", int64(h.ids.Load())))
	return h.Next.Finalize(ctx)
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// call logs a request before and after it runs; args are its key=value pairs.
func (h *handle) call(act string, args []byte, request func() error) error {
	id := h.ids.Add(1)
	h.out.message(kindEnter, h.conn, act, id, args)
	err := request()
	h.out.message(kindLeave, h.conn, act, id, appendResult(args[:0], err))
	return err
}

// args returns a buffer for the key=value pairs of a request. A request's two
// messages are built in it one after the other; 128 bytes hold the longest.
func args() []byte { return make([]byte, 0, 128) }

func (h *handle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	return h.call("Read", appendRange(args(), off, int64(len(p))), func() error {
		return h.Next.ReadAt(ctx, p, off, flags)
	})
}

func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	b := appendRange(args(), off, int64(len(p)))
	b = appendBool(append(b, ' '), "fua", flags&server.FlagFUA != 0)
	return h.call("Write", b, func() error { return h.Next.WriteAt(ctx, p, off, flags) })
}

func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	return h.call("Flush", args(), func() error { return h.Next.Flush(ctx, flags) })
}

func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	b := appendRange(args(), off, length)
	b = appendBool(append(b, ' '), "fua", flags&server.FlagFUA != 0)
	return h.call("Trim", b, func() error { return h.Next.Trim(ctx, off, length, flags) })
}

func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	b := appendRange(args(), off, length)
	b = appendBool(append(b, ' '), "trim", flags&server.FlagMayTrim != 0)
	b = appendBool(append(b, ' '), "fua", flags&server.FlagFUA != 0)
	b = appendBool(append(b, ' '), "fast", flags&server.FlagFastZero != 0)
	return h.call("Zero", b, func() error { return h.Next.Zero(ctx, off, length, flags) })
}

func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.call("Cache", appendRange(args(), off, length), func() error {
		return h.Next.Cache(ctx, off, length, flags)
	})
}

// Extents logs the extents the layers behind returned, with the result.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	id := h.ids.Add(1)
	b := appendRange(args(), off, length)
	b = appendBool(append(b, ' '), "req_one", flags&server.FlagReqOne != 0)
	h.out.message(kindEnter, h.conn, "Extents", id, b)
	err := h.Next.Extents(ctx, off, length, flags, e)
	b = b[:0]
	if err == nil {
		b = appendExtents(b, e.Extents())
	}
	h.out.message(kindLeave, h.conn, "Extents", id, appendResult(b, err))
	return err
}
