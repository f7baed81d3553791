package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// These tests prove the filter API with two small filters of the kinds nbdkit ships,
// each embedding PassThrough and PassThroughHandle and overriding only what it changes.

// readOnlyFilter refuses writes, like nbdkit's -r applied by a filter.
type readOnlyFilter struct{ PassThrough }

func (f readOnlyFilter) Open(ctx context.Context, req OpenRequest) (LayerHandle, error) {
	req.ReadOnly = true
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return readOnlyHandle{PassThroughHandle{next}}, nil
}

type readOnlyHandle struct{ PassThroughHandle }

func (h readOnlyHandle) Prepare(ctx context.Context, readOnly bool) error {
	return h.Next.Prepare(ctx, true)
}

func (h readOnlyHandle) Capabilities(ctx context.Context) (Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Write, c.Trim, c.Zero, c.FastZero, c.FUA = false, false, false, false, FUANone
	return c, err
}

// offsetFilter serves the range [offset, offset+length) of the next layer, like nbdkit's
// offset filter; a length of 0 means up to the end.
type offsetFilter struct {
	PassThrough
	offset, length int64
}

func newOffsetFilter(p *Params, next Layer) (Layer, error) {
	offset, err := p.Size("offset", 0)
	if err != nil {
		return nil, err
	}
	length, err := p.Size("range", 0)
	if err != nil {
		return nil, err
	}
	return &offsetFilter{PassThrough{next}, offset, length}, nil
}

func (f *offsetFilter) Open(ctx context.Context, req OpenRequest) (LayerHandle, error) {
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return &offsetHandle{PassThroughHandle: PassThroughHandle{next}, offset: f.offset, length: f.length}, nil
}

type offsetHandle struct {
	PassThroughHandle
	offset, length int64
	size           int64 // set by Prepare
	extents        sync.Pool
}

func (h *offsetHandle) Prepare(ctx context.Context, readOnly bool) error {
	if err := h.Next.Prepare(ctx, readOnly); err != nil {
		return err
	}
	size, err := h.Next.Size(ctx)
	if err != nil {
		return err
	}
	h.size = size - h.offset
	if h.length != 0 {
		h.size = h.length
	}
	if h.size < 0 || h.offset+h.size > size {
		return Errorf(syscall.EINVAL, "offset %d and range %d do not fit in %d bytes", h.offset, h.length, size)
	}
	return nil
}

func (h *offsetHandle) Size(ctx context.Context) (int64, error) { return h.size, nil }

func (h *offsetHandle) ReadAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	return h.Next.ReadAt(ctx, p, off+h.offset, flags)
}

func (h *offsetHandle) WriteAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	return h.Next.WriteAt(ctx, p, off+h.offset, flags)
}

func (h *offsetHandle) Trim(ctx context.Context, off, length int64, flags Flags) error {
	return h.Next.Trim(ctx, off+h.offset, length, flags)
}

func (h *offsetHandle) Zero(ctx context.Context, off, length int64, flags Flags) error {
	return h.Next.Zero(ctx, off+h.offset, length, flags)
}

func (h *offsetHandle) Cache(ctx context.Context, off, length int64, flags Flags) error {
	return h.Next.Cache(ctx, off+h.offset, length, flags)
}

// Extents asks the next layer about the shifted range in a list of its own, then shifts
// the answer back.
func (h *offsetHandle) Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error {
	inner, _ := h.extents.Get().(*ExtentList)
	if inner == nil {
		inner = new(ExtentList)
	}
	defer h.extents.Put(inner)
	inner.Reset(off+h.offset, off+h.offset+length)
	if err := h.Next.Extents(ctx, off+h.offset, length, flags, inner); err != nil {
		return err
	}
	for _, x := range inner.Extents() {
		if err := e.Add(x.Offset-h.offset, x.Length, x.Type); err != nil {
			return err
		}
	}
	return nil
}

// traceFilter records the calls that pass through it, to check the stack's order.
type traceFilter struct {
	PassThrough
	name  string
	trace *[]string
}

func (f traceFilter) Open(ctx context.Context, req OpenRequest) (LayerHandle, error) {
	*f.trace = append(*f.trace, f.name+".Open")
	next, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return traceHandle{PassThroughHandle{next}, f}, nil
}

type traceHandle struct {
	PassThroughHandle
	f traceFilter
}

func (h traceHandle) ReadAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	*h.f.trace = append(*h.f.trace, fmt.Sprintf("%s.ReadAt(%d)", h.f.name, off))
	return h.Next.ReadAt(ctx, p, off, flags)
}

// stack puts filters in front of plugin in command-line order: the first is closest to
// the client.
func stack(plugin Layer, filters ...func(Layer) Layer) Layer {
	l := plugin
	for _, f := range slices.Backward(filters) {
		l = f(l)
	}
	return l
}

// patternDisk is fullDisk with each byte set to its offset modulo 251, so that a
// shifted read is recognisable.
func patternDisk(size int) fullDisk {
	d := newDisk(size, 0)
	for i := range d.data {
		d.data[i] = byte(i % 251)
	}
	return fullDisk{flushableDisk{writableDisk{d}}}
}

func TestFilterStack(t *testing.T) {
	ctx := context.Background()
	plugin := patternDisk(1 << 16)
	l := stack(PluginLayer("test", handlePlugin{plugin}),
		func(next Layer) Layer { return readOnlyFilter{PassThrough{next}} },
		func(next Layer) Layer { return &offsetFilter{PassThrough{next}, 1000, 4096} },
	)
	if l.Name() != "test" {
		t.Errorf("Name() = %q: PassThrough does not pass through", l.Name())
	}
	h, err := l.Open(ctx, OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}

	if size, err := h.Size(ctx); err != nil || size != 4096 {
		t.Errorf("Size() = %d, %v; want 4096", size, err)
	}
	got := make([]byte, 10)
	if err := h.ReadAt(ctx, got, 5, 0); err != nil {
		t.Fatal(err)
	}
	if want := plugin.data[1005:1015]; !bytes.Equal(got, want) {
		t.Errorf("ReadAt(5) = %v, want the plugin's bytes at 1005: %v", got, want)
	}

	caps, err := h.Capabilities(ctx)
	if err != nil || caps.Write || caps.Zero || !caps.Flush || !caps.Extents {
		t.Errorf("Capabilities() = %+v, %v; want read-only with flush and extents", caps, err)
	}
	// The plugin was opened read-only, so even past the filter's Capabilities writes
	// are refused by the adapter.
	if err := h.WriteAt(ctx, got, 0, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteAt = %v, want EROFS", err)
	}

	// The plugin's data/hole boundary is at 32768; seen through the offset, at 31768.
	h2 := openThrough(t, stack(PluginLayer("test", handlePlugin{patternDisk(1 << 16)}),
		func(next Layer) Layer { return &offsetFilter{PassThrough{next}, 1000, 0} }))
	e := NewExtentList(31000, 33000)
	if err := h2.Extents(ctx, 31000, 2000, 0, e); err != nil {
		t.Fatal(err)
	}
	if want := []Extent{{31000, 768, ExtentData}, {31768, 1232, ExtentHole | ExtentZero}}; !slices.Equal(e.Extents(), want) {
		t.Errorf("Extents = %v, want %v", e.Extents(), want)
	}
	// Passed-through operations reach the plugin unchanged.
	if desc, err := h2.ExportDescription(ctx); err != nil || desc != "a full disk" {
		t.Errorf("ExportDescription = %q, %v", desc, err)
	}
	if err := h2.Zero(ctx, 0, 10, 0); err != nil {
		t.Fatal(err)
	}
	if err := h2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func openThrough(t *testing.T, l Layer) LayerHandle {
	t.Helper()
	h, err := l.Open(context.Background(), OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFilterOrder(t *testing.T) {
	ctx := context.Background()
	var trace []string
	l := stack(PluginLayer("test", handlePlugin{patternDisk(8192)}),
		func(next Layer) Layer { return traceFilter{PassThrough{next}, "first", &trace} },
		func(next Layer) Layer { return &offsetFilter{PassThrough{next}, 100, 0} },
		func(next Layer) Layer { return traceFilter{PassThrough{next}, "last", &trace} },
	)
	h := openThrough(t, l)
	if err := h.ReadAt(ctx, make([]byte, 1), 7, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{"first.Open", "last.Open", "first.ReadAt(7)", "last.ReadAt(107)"}
	if !slices.Equal(trace, want) {
		t.Errorf("trace = %q, want %q (the first filter is closest to the client)", trace, want)
	}
}

// TestFilterSpecParams builds a stack from specs the way the command line does, and
// shows that a filter's keys do not reach the plugin and unknown keys are found.
func TestFilterSpecParams(t *testing.T) {
	ctx := context.Background()
	offsetSpec := FilterSpec{Name: "offset", New: newOffsetFilter}
	pluginSpec := PluginSpec{Name: "pattern", New: func(p *Params) (Plugin, error) {
		size, err := p.Size("size", 0)
		if err != nil {
			return nil, err
		}
		if _, ok := p.Lookup("offset"); ok {
			return nil, errors.New("the plugin saw the filter's offset=")
		}
		return handlePlugin{patternDisk(int(size))}, nil
	}}

	build := func(list []Param) (Layer, error) {
		return NewStack(pluginSpec, []FilterSpec{offsetSpec}, list, nil)
	}

	l, err := build([]Param{{"size", "8k"}, {"offset", "1k"}})
	if err != nil {
		t.Fatal(err)
	}
	h := openThrough(t, l)
	if size, _ := h.Size(ctx); size != 7<<10 {
		t.Errorf("Size() = %d, want 7 KiB", size)
	}

	if _, err := build([]Param{{"size", "8k"}, {"colour", "blue"}}); err == nil || err.Error() != "pattern: unknown parameter colour (gonbd pattern --help lists them)" {
		t.Errorf("unknown parameter: %v", err)
	}
	if _, err := build([]Param{{"size", "8k"}, {"offset", "lots"}}); err == nil || !strings.HasPrefix(err.Error(), "offset: offset=lots: ") {
		t.Errorf("bad filter parameter: %v", err)
	}
}
