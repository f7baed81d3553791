package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// The test handles below build up from disk, which can only be read, one optional
// interface at a time, so that each capability derivation can be tested.

// disk is an in-memory export that counts the calls made to it.
type disk struct {
	mu        sync.Mutex
	data      []byte
	calls     map[string]int
	lastFlags map[string]Flags
	zeroErr   error // returned by Zero when set
}

func newDisk(size int, fill byte) *disk {
	return &disk{
		data:      bytes.Repeat([]byte{fill}, size),
		calls:     map[string]int{},
		lastFlags: map[string]Flags{},
	}
}

func (d *disk) record(op string, flags Flags) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[op]++
	d.lastFlags[op] = flags
}

func (d *disk) count(op string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[op]
}

func (d *disk) flags(op string) Flags {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastFlags[op]
}

func (d *disk) Size(ctx context.Context) (int64, error) { return int64(len(d.data)), nil }

func (d *disk) ReadAt(ctx context.Context, p []byte, off int64) error {
	d.record("ReadAt", 0)
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(p, d.data[off:])
	return nil
}

type writableDisk struct{ *disk }

func (d writableDisk) WriteAt(ctx context.Context, p []byte, off int64, flags Flags) error {
	d.record("WriteAt", flags)
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(d.data[off:], p)
	return nil
}

type flushableDisk struct{ writableDisk }

func (d flushableDisk) Flush(ctx context.Context, flags Flags) error {
	d.record("Flush", flags)
	return nil
}

type zeroableDisk struct{ writableDisk }

func (d zeroableDisk) Zero(ctx context.Context, off, length int64, flags Flags) error {
	d.record("Zero", flags)
	if d.zeroErr != nil {
		return d.zeroErr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.data[off : off+length])
	return nil
}

// fullDisk implements every optional handle interface.
type fullDisk struct{ flushableDisk }

func (d fullDisk) Trim(ctx context.Context, off, length int64, flags Flags) error {
	d.record("Trim", flags)
	return nil
}

func (d fullDisk) Zero(ctx context.Context, off, length int64, flags Flags) error {
	return zeroableDisk{d.writableDisk}.Zero(ctx, off, length, flags)
}

func (d fullDisk) Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error {
	d.record("Extents", flags)
	// The first half is data, the second a hole.
	half := int64(len(d.data) / 2)
	if err := e.Add(0, half, ExtentData); err != nil {
		return err
	}
	return e.Add(half, int64(len(d.data))-half, ExtentHole|ExtentZero)
}

func (d fullDisk) Cache(ctx context.Context, off, length int64, flags Flags) error {
	d.record("Cache", flags)
	return nil
}

func (d fullDisk) BlockSize(ctx context.Context) (BlockSize, error) {
	return BlockSize{Minimum: 1, Preferred: 4096, Maximum: 64 << 10}, nil
}

func (d fullDisk) ExportDescription(ctx context.Context) (string, error) {
	return "a full disk", nil
}

func (d fullDisk) Close() error {
	d.record("Close", 0)
	return nil
}

// overriddenDisk changes the capabilities of a fullDisk.
type overriddenDisk struct {
	fullDisk
	override func(*Capabilities)
}

func (d overriddenDisk) Capabilities(ctx context.Context, c *Capabilities) error {
	d.override(c)
	return nil
}

// overriddenReadOnly changes the capabilities of a handle that can only be read.
type overriddenReadOnly struct {
	*disk
	override func(*Capabilities)
}

func (d overriddenReadOnly) Capabilities(ctx context.Context, c *Capabilities) error {
	d.override(c)
	return nil
}

// handlePlugin is a plugin whose handle is fixed by the test.
type handlePlugin struct{ handle Handle }

func (p handlePlugin) Open(ctx context.Context, req OpenRequest) (Handle, error) {
	return p.handle, nil
}

// openPrepared opens h through PluginLayer and prepares it.
func openPrepared(t testing.TB, h Handle, readOnly bool) LayerHandle {
	t.Helper()
	ctx := context.Background()
	lh, err := PluginLayer("test", handlePlugin{h}).Open(ctx, OpenRequest{ReadOnly: readOnly})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := lh.Prepare(ctx, readOnly); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return lh
}

func TestCapabilityDerivation(t *testing.T) {
	tests := []struct {
		name     string
		handle   Handle
		readOnly bool
		want     Capabilities
	}{
		{"read only", newDisk(8, 0), false, Capabilities{}},
		{"writable", writableDisk{newDisk(8, 0)}, false,
			Capabilities{Write: true, Zero: true, FastZero: true}},
		{"writable, opened read-only", writableDisk{newDisk(8, 0)}, true, Capabilities{}},
		{"flushable", flushableDisk{writableDisk{newDisk(8, 0)}}, false,
			Capabilities{Write: true, Flush: true, Zero: true, FastZero: true, FUA: FUAEmulate}},
		{"zeroable", zeroableDisk{writableDisk{newDisk(8, 0)}}, false,
			Capabilities{Write: true, Zero: true}},
		{"full", fullDisk{flushableDisk{writableDisk{newDisk(8, 0)}}}, false,
			Capabilities{Write: true, Flush: true, Trim: true, Zero: true, Extents: true,
				FUA: FUAEmulate, Cache: CacheNative}},
		{"full, opened read-only", fullDisk{flushableDisk{writableDisk{newDisk(8, 0)}}}, true,
			Capabilities{Flush: true, Extents: true, Cache: CacheNative}},
		{"overridden", overriddenDisk{fullDisk{flushableDisk{writableDisk{newDisk(8, 0)}}}, func(c *Capabilities) {
			c.FUA, c.MultiConn, c.Rotational, c.FastZero, c.Cache = FUANative, true, true, true, CacheEmulate
		}}, false, Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true, Extents: true,
			FUA: FUANative, MultiConn: true, Cache: CacheEmulate, Rotational: true}},
		{"override turns writing off, and what depends on it", overriddenDisk{fullDisk{flushableDisk{writableDisk{newDisk(8, 0)}}}, func(c *Capabilities) {
			c.Write = false
		}}, false, Capabilities{Flush: true, Extents: true, Cache: CacheNative}},
		{"override cannot write a read-only connection", overriddenDisk{fullDisk{flushableDisk{writableDisk{newDisk(8, 0)}}}, func(c *Capabilities) {
			c.Write, c.Zero = true, true
		}}, true, Capabilities{Flush: true, Extents: true, Cache: CacheNative}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openPrepared(t, tt.handle, tt.readOnly)
			got, err := h.Capabilities(context.Background())
			if err != nil || got != tt.want {
				t.Errorf("Capabilities() = %+v, %v\n                     want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCapabilityWithoutMethodFails(t *testing.T) {
	tests := []struct {
		name     string
		override func(*Capabilities)
		want     string
	}{
		{"write", func(c *Capabilities) { c.Write = true }, "Write without"},
		{"flush", func(c *Capabilities) { c.Flush = true }, "Flush without"},
		{"extents", func(c *Capabilities) { c.Extents = true }, "Extents without"},
		{"cache", func(c *Capabilities) { c.Cache = CacheNative }, "CacheNative without"},
		{"bad cache mode", func(c *Capabilities) { c.Cache = 7 }, "unknown cache mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := PluginLayer("test", handlePlugin{overriddenReadOnly{newDisk(8, 0), tt.override}}).Open(ctx, OpenRequest{})
			if err != nil {
				t.Fatal(err)
			}
			err = h.Prepare(ctx, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Prepare() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Trim and FUAEmulate need a writable handle to survive the clamping.
	for _, tt := range []struct {
		name     string
		override func(*Capabilities)
		want     string
	}{
		{"trim", func(c *Capabilities) { c.Trim = true }, "Trim without"},
		{"fua", func(c *Capabilities) { c.FUA = FUAEmulate }, "FUAEmulate without"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := PluginLayer("test", handlePlugin{writableOverrider{writableDisk{newDisk(8, 0)}, tt.override}}).Open(ctx, OpenRequest{})
			if err != nil {
				t.Fatal(err)
			}
			err = h.Prepare(ctx, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Prepare() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

type writableOverrider struct {
	writableDisk
	override func(*Capabilities)
}

func (d writableOverrider) Capabilities(ctx context.Context, c *Capabilities) error {
	d.override(c)
	return nil
}

func TestReadWriteRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := newDisk(1<<16, 0)
	h := openPrepared(t, writableDisk{d}, false)
	if size, err := h.Size(ctx); err != nil || size != 1<<16 {
		t.Fatalf("Size() = %d, %v", size, err)
	}
	want := []byte("the quick brown fox")
	if err := h.WriteAt(ctx, want, 1000, 0); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if err := h.ReadAt(ctx, got, 1000, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
	// The last byte is in range; one more is not.
	if err := h.ReadAt(ctx, got[:1], 1<<16-1, 0); err != nil {
		t.Errorf("reading the last byte: %v", err)
	}
}

func TestOutOfRange(t *testing.T) {
	ctx := context.Background()
	d := newDisk(4096, 0)
	h := openPrepared(t, fullDisk{flushableDisk{writableDisk{d}}}, false)
	buf := make([]byte, 16)
	calls := []struct {
		name string
		do   func() error
	}{
		{"read past end", func() error { return h.ReadAt(ctx, buf, 4090, 0) }},
		{"read at negative offset", func() error { return h.ReadAt(ctx, buf, -1, 0) }},
		{"write past end", func() error { return h.WriteAt(ctx, buf, 4096, 0) }},
		{"trim past end", func() error { return h.Trim(ctx, 0, 4097, 0) }},
		{"zero with overflowing length", func() error { return h.Zero(ctx, 10, maxInt64, 0) }},
		{"extents with negative length", func() error { return h.Extents(ctx, 0, -1, 0, NewExtentList(0, 1)) }},
		{"cache past end", func() error { return h.Cache(ctx, 4095, 2, 0) }},
	}
	for _, c := range calls {
		err := c.do()
		if ErrnoOf(err) != protocol.EIO || !strings.Contains(fmt.Sprint(err), "outside the export") {
			t.Errorf("%s: %v, want EIO outside the export", c.name, err)
		}
	}
	for _, op := range []string{"ReadAt", "WriteAt", "Trim", "Zero", "Extents", "Cache"} {
		if n := d.count(op); n != 0 {
			t.Errorf("the plugin's %s was called %d times for out-of-range requests", op, n)
		}
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		handle   Handle
		readOnly bool
	}{
		{"no Writer", newDisk(4096, 0), false},
		{"read-only connection", fullDisk{flushableDisk{writableDisk{newDisk(4096, 0)}}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := openPrepared(t, tt.handle, tt.readOnly)
			for name, err := range map[string]error{
				"WriteAt": h.WriteAt(ctx, make([]byte, 8), 0, 0),
				"Trim":    h.Trim(ctx, 0, 8, 0),
				"Zero":    h.Zero(ctx, 0, 8, 0),
			} {
				if !errors.Is(err, syscall.EROFS) || ErrnoOf(err) != protocol.EPERM {
					t.Errorf("%s = %v, want EROFS (EPERM on the wire)", name, err)
				}
			}
		})
	}
}

func TestNotAdvertised(t *testing.T) {
	ctx := context.Background()
	h := openPrepared(t, writableDisk{newDisk(4096, 0)}, false)
	for name, err := range map[string]error{
		"Flush":      h.Flush(ctx, 0),
		"Trim":       h.Trim(ctx, 0, 8, 0),
		"Cache":      h.Cache(ctx, 0, 8, 0),
		"WriteAtFUA": h.WriteAt(ctx, make([]byte, 8), 0, FlagFUA),
	} {
		if ErrnoOf(err) != protocol.EINVAL {
			t.Errorf("%s = %v, want EINVAL", name, err)
		}
	}
}

func TestFUA(t *testing.T) {
	ctx := context.Background()
	emulated := fullDisk{flushableDisk{writableDisk{newDisk(4096, 1)}}}
	native := overriddenDisk{fullDisk{flushableDisk{writableDisk{newDisk(4096, 1)}}},
		func(c *Capabilities) { c.FUA = FUANative }}
	ops := []struct {
		op string
		do func(h LayerHandle) error
	}{
		{"WriteAt", func(h LayerHandle) error { return h.WriteAt(ctx, make([]byte, 512), 0, FlagFUA) }},
		{"Trim", func(h LayerHandle) error { return h.Trim(ctx, 0, 512, FlagFUA) }},
		{"Zero", func(h LayerHandle) error { return h.Zero(ctx, 0, 512, FlagFUA) }},
	}

	h := openPrepared(t, emulated, false)
	for i, o := range ops {
		if err := o.do(h); err != nil {
			t.Fatalf("%s: %v", o.op, err)
		}
		if flags := emulated.flags(o.op); flags&FlagFUA != 0 {
			t.Errorf("emulated FUA: %s got FlagFUA", o.op)
		}
		if n := emulated.count("Flush"); n != i+1 {
			t.Errorf("emulated FUA: after %s, %d flushes, want %d", o.op, n, i+1)
		}
	}
	// Without FUA, no flush.
	if err := h.WriteAt(ctx, make([]byte, 512), 0, 0); err != nil {
		t.Fatal(err)
	}
	if n := emulated.count("Flush"); n != len(ops) {
		t.Errorf("a write without FUA flushed: %d flushes", n)
	}

	h = openPrepared(t, native, false)
	for _, o := range ops {
		if err := o.do(h); err != nil {
			t.Fatalf("%s: %v", o.op, err)
		}
		if flags := native.flags(o.op); flags&FlagFUA == 0 {
			t.Errorf("native FUA: %s did not get FlagFUA", o.op)
		}
	}
	if n := native.count("Flush"); n != 0 {
		t.Errorf("native FUA flushed %d times", n)
	}
}

// smallBlocks is a writable disk whose maximum request is 4 KiB.
type smallBlocks struct{ writableDisk }

func (smallBlocks) BlockSize(ctx context.Context) (BlockSize, error) {
	return BlockSize{Minimum: 512, Preferred: 4096, Maximum: 4096}, nil
}

func TestZeroEmulation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		handle     func(*disk) Handle
		off, len   int64
		wantWrites int
	}{
		{"one chunk", func(d *disk) Handle { return writableDisk{d} }, 10, 100, 1},
		{"several chunks", func(d *disk) Handle { return writableDisk{d} }, 1, 2*emulationChunk + 5, 3},
		{"chunks within the maximum block size", func(d *disk) Handle { return smallBlocks{writableDisk{d}} }, 4096, 16384, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDisk(3*emulationChunk, 0xff)
			h := openPrepared(t, tt.handle(d), false)
			if err := h.Zero(ctx, tt.off, tt.len, 0); err != nil {
				t.Fatal(err)
			}
			if n := d.count("WriteAt"); n != tt.wantWrites {
				t.Errorf("%d writes, want %d", n, tt.wantWrites)
			}
			for i, b := range d.data {
				inRange := int64(i) >= tt.off && int64(i) < tt.off+tt.len
				if inRange && b != 0 || !inRange && b != 0xff {
					t.Fatalf("byte %d = %#x after zeroing [%d, +%d)", i, b, tt.off, tt.len)
				}
			}
		})
	}
	if zeroes != [emulationChunk]byte{} {
		t.Fatal("the shared zero buffer was written")
	}
}

func TestFastZero(t *testing.T) {
	ctx := context.Background()

	// Emulated: refused at once, nothing written.
	d := newDisk(4096, 0xff)
	h := openPrepared(t, writableDisk{d}, false)
	err := h.Zero(ctx, 0, 4096, FlagFastZero)
	if !errors.Is(err, syscall.ENOTSUP) || ErrnoOf(err) != protocol.ENOTSUP {
		t.Errorf("emulated fast zero = %v, want ENOTSUP", err)
	}
	if d.count("WriteAt") != 0 || d.data[0] != 0xff {
		t.Error("emulated fast zero wrote")
	}

	// Native but refused by the handle: ENOTSUP passes through, no fallback.
	d = newDisk(4096, 0xff)
	d.zeroErr = Errorf(syscall.EOPNOTSUPP, "not today")
	h = openPrepared(t, zeroOverrider{zeroableDisk{writableDisk{d}}, func(c *Capabilities) { c.FastZero = true }}, false)
	if err := h.Zero(ctx, 0, 4096, FlagFastZero); ErrnoOf(err) != protocol.ENOTSUP {
		t.Errorf("native fast zero refused by the handle = %v, want ENOTSUP", err)
	}
	if d.count("WriteAt") != 0 {
		t.Error("a refused fast zero fell back to writing")
	}

	// Fast zero not advertised: EINVAL.
	h = openPrepared(t, zeroableDisk{writableDisk{newDisk(4096, 0)}}, false)
	if err := h.Zero(ctx, 0, 4096, FlagFastZero); ErrnoOf(err) != protocol.EINVAL {
		t.Errorf("unadvertised fast zero = %v, want EINVAL", err)
	}
}

// zeroOverrider adds a CapabilityOverrider to a zeroableDisk.
type zeroOverrider struct {
	zeroableDisk
	override func(*Capabilities)
}

func (z zeroOverrider) Capabilities(ctx context.Context, c *Capabilities) error {
	z.override(c)
	return nil
}

func TestZeroFallsBackOnENOTSUP(t *testing.T) {
	ctx := context.Background()
	d := newDisk(4096, 0xff)
	d.zeroErr = syscall.ENOTSUP
	h := openPrepared(t, zeroableDisk{writableDisk{d}}, false)
	if err := h.Zero(ctx, 100, 200, 0); err != nil {
		t.Fatalf("Zero = %v, want the fallback to succeed", err)
	}
	if d.count("Zero") != 1 || d.count("WriteAt") != 1 {
		t.Errorf("Zero called %d times, WriteAt %d times; want 1 and 1", d.count("Zero"), d.count("WriteAt"))
	}
	if !bytes.Equal(d.data[100:300], make([]byte, 200)) || d.data[99] != 0xff || d.data[300] != 0xff {
		t.Error("the fallback did not zero exactly the range")
	}

	// Any other error is the answer.
	d.zeroErr = syscall.ENOSPC
	if err := h.Zero(ctx, 100, 200, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Zero = %v, want ENOSPC", err)
	}
}

func TestMayTrim(t *testing.T) {
	ctx := context.Background()
	// Without Trimmer, FlagMayTrim is taken away.
	d := newDisk(4096, 0)
	h := openPrepared(t, zeroableDisk{writableDisk{d}}, false)
	if err := h.Zero(ctx, 0, 8, FlagMayTrim); err != nil {
		t.Fatal(err)
	}
	if d.flags("Zero")&FlagMayTrim != 0 {
		t.Error("a handle without Trim got FlagMayTrim")
	}
	// With Trimmer, it stays.
	d = newDisk(4096, 0)
	h = openPrepared(t, fullDisk{flushableDisk{writableDisk{d}}}, false)
	if err := h.Zero(ctx, 0, 8, FlagMayTrim); err != nil {
		t.Fatal(err)
	}
	if d.flags("Zero")&FlagMayTrim == 0 {
		t.Error("a handle with Trim lost FlagMayTrim")
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()

	d := newDisk(3*emulationChunk, 0)
	h := openPrepared(t, overriddenReadOnly{d, func(c *Capabilities) { c.Cache = CacheEmulate }}, false)
	if err := h.Cache(ctx, 0, 2*emulationChunk+1, 0); err != nil {
		t.Fatal(err)
	}
	if n := d.count("ReadAt"); n != 3 {
		t.Errorf("emulated cache read %d times, want 3", n)
	}

	d = newDisk(4096, 0)
	h = openPrepared(t, fullDisk{flushableDisk{writableDisk{d}}}, false)
	if err := h.Cache(ctx, 0, 4096, 0); err != nil {
		t.Fatal(err)
	}
	if d.count("Cache") != 1 || d.count("ReadAt") != 0 {
		t.Errorf("native cache: Cache %d, ReadAt %d calls; want 1, 0", d.count("Cache"), d.count("ReadAt"))
	}
}

// emptyExtents reports no extent at all, which is a bug.
type emptyExtents struct{ *disk }

func (emptyExtents) Extents(ctx context.Context, off, length int64, flags Flags, e *ExtentList) error {
	return nil
}

func TestExtents(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		handle      Handle
		off, length int64
		want        []Extent
	}{
		{"default: all data", newDisk(4096, 0), 100, 200, []Extent{{100, 200, ExtentData}}},
		{"handle's extents, clipped", fullDisk{flushableDisk{writableDisk{newDisk(4096, 0)}}}, 1000, 2000,
			[]Extent{{1000, 1048, ExtentData}, {2048, 952, ExtentHole | ExtentZero}}},
		{"extents turned off: all data", overriddenDisk{fullDisk{flushableDisk{writableDisk{newDisk(4096, 0)}}},
			func(c *Capabilities) { c.Extents = false }}, 0, 4096, []Extent{{0, 4096, ExtentData}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openPrepared(t, tt.handle, false)
			e := NewExtentList(tt.off, tt.off+tt.length)
			if err := h.Extents(ctx, tt.off, tt.length, 0, e); err != nil {
				t.Fatal(err)
			}
			if got := e.Extents(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("extents = %v, want %v", got, tt.want)
			}
		})
	}

	h := openPrepared(t, emptyExtents{newDisk(4096, 0)}, false)
	err := h.Extents(ctx, 0, 4096, 0, NewExtentList(0, 4096))
	if ErrnoOf(err) != protocol.EIO || !strings.Contains(err.Error(), "no extent") {
		t.Errorf("no extents = %v, want EIO", err)
	}
}

// panicky panics in ReadAt and Close.
type panicky struct{ *disk }

func (panicky) ReadAt(ctx context.Context, p []byte, off int64) error {
	panic("the sky is falling")
}

func (panicky) Close() error {
	var p *disk
	return p.zeroErr // nil pointer dereference
}

func TestPanicBecomesEIO(t *testing.T) {
	ctx := context.Background()
	h := openPrepared(t, panicky{newDisk(4096, 0)}, false)

	err := h.ReadAt(ctx, make([]byte, 8), 0, 0)
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("ReadAt = %v, want a *PanicError", err)
	}
	if ErrnoOf(err) != protocol.EIO {
		t.Errorf("ErrnoOf = %v, want EIO", ErrnoOf(err))
	}
	if pe.Value != "the sky is falling" || pe.Op != "ReadAt" || pe.Layer != "test" {
		t.Errorf("PanicError = %+v", pe)
	}
	if !strings.Contains(err.Error(), "the sky is falling") || !bytes.Contains(pe.Stack, []byte("panicky")) {
		t.Errorf("message %q or stack lacks the panic", err)
	}
	// The handle still works after a panic.
	if err := h.Extents(ctx, 0, 10, 0, NewExtentList(0, 10)); err != nil {
		t.Errorf("after a panic: %v", err)
	}

	if err := h.Close(ctx); !errors.As(err, &pe) || !strings.Contains(err.Error(), "nil pointer") {
		t.Errorf("Close = %v, want a *PanicError of a nil dereference", err)
	}
}

func TestCloseAndDescription(t *testing.T) {
	ctx := context.Background()
	d := newDisk(4096, 0)
	h := openPrepared(t, fullDisk{flushableDisk{writableDisk{d}}}, false)
	if desc, err := h.ExportDescription(ctx); err != nil || desc != "a full disk" {
		t.Errorf("ExportDescription = %q, %v", desc, err)
	}
	if bs, err := h.BlockSize(ctx); err != nil || bs.Maximum != 64<<10 {
		t.Errorf("BlockSize = %+v, %v", bs, err)
	}
	if err := h.Finalize(ctx); err != nil {
		t.Error(err)
	}
	if err := h.Close(ctx); err != nil || d.count("Close") != 1 {
		t.Errorf("Close = %v, plugin's Close called %d times", err, d.count("Close"))
	}

	h = openPrepared(t, newDisk(4096, 0), false)
	if desc, err := h.ExportDescription(ctx); err != nil || desc != "" {
		t.Errorf("default ExportDescription = %q, %v", desc, err)
	}
	if bs, err := h.BlockSize(ctx); err != nil || bs != (BlockSize{}) {
		t.Errorf("default BlockSize = %+v, %v", bs, err)
	}
	if err := h.Close(ctx); err != nil {
		t.Errorf("Close without io.Closer = %v", err)
	}
}

type badBlockSize struct {
	*disk
	bs BlockSize
}

func (b badBlockSize) BlockSize(ctx context.Context) (BlockSize, error) { return b.bs, nil }

func TestBlockSizeChecked(t *testing.T) {
	ctx := context.Background()
	for _, bs := range []BlockSize{
		{Minimum: 3, Preferred: 4096, Maximum: 4096},
		{Minimum: 128 << 10, Preferred: 128 << 10, Maximum: 128 << 10},
		{Minimum: 1, Preferred: 256, Maximum: 4096},
		{Minimum: 4096, Preferred: 512, Maximum: 8192},
		{Minimum: 512, Preferred: 4096, Maximum: 2048},
		{Minimum: 512, Preferred: 4096, Maximum: 4096 + 1},
		{Minimum: 0, Preferred: 4096, Maximum: 4096},
	} {
		h, err := PluginLayer("test", handlePlugin{badBlockSize{newDisk(4096, 0), bs}}).Open(ctx, OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Prepare(ctx, false); err == nil || !strings.Contains(err.Error(), "invalid block size") {
			t.Errorf("Prepare with %+v = %v, want an invalid block size", bs, err)
		}
	}
	for _, bs := range []BlockSize{
		{},
		{Minimum: 1, Preferred: 512, Maximum: 0xffffffff},
		{Minimum: 4096, Preferred: 4096, Maximum: 32 << 20},
	} {
		h := openPrepared(t, badBlockSize{newDisk(4096, 0), bs}, false)
		if got, _ := h.BlockSize(ctx); got != bs {
			t.Errorf("BlockSize = %+v, want %+v", got, bs)
		}
	}
}

func TestNotPrepared(t *testing.T) {
	ctx := context.Background()
	h, err := PluginLayer("test", handlePlugin{newDisk(4096, 0)}).Open(ctx, OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ReadAt(ctx, make([]byte, 1), 0, 0); err == nil || !strings.Contains(err.Error(), "before Prepare") {
		t.Errorf("ReadAt before Prepare = %v", err)
	}
	if _, err := h.Size(ctx); err == nil {
		t.Error("Size before Prepare succeeded")
	}
}

// fullPlugin implements every optional plugin interface.
type fullPlugin struct {
	mu        sync.Mutex
	calls     []string
	openedFor []OpenRequest
}

func (p *fullPlugin) record(call string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, call)
}

func (p *fullPlugin) Open(ctx context.Context, req OpenRequest) (Handle, error) {
	p.record("Open")
	p.mu.Lock()
	p.openedFor = append(p.openedFor, req)
	p.mu.Unlock()
	if req.ExportName == "refuse" {
		return nil, Errorf(syscall.EPERM, "export %q is private", req.ExportName)
	}
	return newDisk(512, 0), nil
}
func (p *fullPlugin) ThreadModel() ThreadModel { return SerializeRequests }
func (p *fullPlugin) GetReady(ctx context.Context) error {
	p.record("GetReady")
	return nil
}
func (p *fullPlugin) Preconnect(ctx context.Context, info ConnInfo) error {
	p.record("Preconnect")
	if info.TLS {
		return nil
	}
	return errors.New("TLS required")
}
func (p *fullPlugin) ListExports(ctx context.Context, readOnly bool) ([]Export, error) {
	return []Export{{"a", "first"}, {"b", "second"}}, nil
}
func (p *fullPlugin) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	return "a", nil
}
func (p *fullPlugin) Cleanup(ctx context.Context) { p.record("Cleanup") }
func (p *fullPlugin) DumpPlugin(w io.Writer)      { fmt.Fprintln(w, "full_plugin=yes") }

func TestLayerDefaults(t *testing.T) {
	ctx := context.Background()
	l := PluginLayer("minimal", handlePlugin{newDisk(1, 0)})
	if l.Name() != "minimal" {
		t.Errorf("Name() = %q", l.Name())
	}
	if tm := l.ThreadModel(); tm != Parallel {
		t.Errorf("ThreadModel() = %v, want Parallel", tm)
	}
	if err := l.GetReady(ctx); err != nil {
		t.Error(err)
	}
	if err := l.Preconnect(ctx, ConnInfo{}); err != nil {
		t.Error(err)
	}
	if name, err := l.DefaultExport(ctx, false); err != nil || name != "" {
		t.Errorf("DefaultExport = %q, %v", name, err)
	}
	if exports, err := l.ListExports(ctx, false); err != nil || fmt.Sprint(exports) != fmt.Sprint([]Export{{}}) {
		t.Errorf("ListExports = %v, %v; want the default export alone", exports, err)
	}
	l.Cleanup(ctx)
}

func TestLayerOptionalInterfaces(t *testing.T) {
	ctx := context.Background()
	p := &fullPlugin{}
	l := PluginLayer("full", p)
	if tm := l.ThreadModel(); tm != SerializeRequests {
		t.Errorf("ThreadModel() = %v", tm)
	}
	if err := l.GetReady(ctx); err != nil {
		t.Error(err)
	}
	if err := l.Preconnect(ctx, ConnInfo{TLS: false}); err == nil {
		t.Error("Preconnect let a plain connection in")
	}
	if name, err := l.DefaultExport(ctx, false); err != nil || name != "a" {
		t.Errorf("DefaultExport = %q, %v", name, err)
	}
	if exports, err := l.ListExports(ctx, true); err != nil || len(exports) != 2 || exports[1].Description != "second" {
		t.Errorf("ListExports = %v, %v", exports, err)
	}
	if _, err := l.Open(ctx, OpenRequest{ExportName: "refuse"}); ErrnoOf(err) != protocol.EPERM {
		t.Errorf("Open(refuse) = %v, want EPERM", err)
	}
	if _, err := l.Open(ctx, OpenRequest{ExportName: "b", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if got := p.openedFor[1]; got != (OpenRequest{ExportName: "b", ReadOnly: true}) {
		t.Errorf("plugin opened with %+v", got)
	}
	l.Cleanup(ctx)
	if want := "GetReady Preconnect Open Open Cleanup"; strings.Join(p.calls, " ") != want {
		t.Errorf("calls = %q, want %q", p.calls, want)
	}
}

type nilOpener struct{}

func (nilOpener) Open(ctx context.Context, req OpenRequest) (Handle, error) { return nil, nil }

func TestOpenWithoutHandle(t *testing.T) {
	if _, err := PluginLayer("nil", nilOpener{}).Open(context.Background(), OpenRequest{}); ErrnoOf(err) != protocol.EIO {
		t.Errorf("Open = %v, want EIO", err)
	}
}

// TestConcurrentRequests runs requests of every kind at once, for the race detector.
func TestConcurrentRequests(t *testing.T) {
	ctx := context.Background()
	d := newDisk(1<<16, 0)
	h := openPrepared(t, fullDisk{flushableDisk{writableDisk{d}}}, false)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i) * 4096
			buf := make([]byte, 4096)
			for range 50 {
				if err := h.WriteAt(ctx, buf, off, FlagFUA); err != nil {
					t.Error(err)
				}
				if err := h.ReadAt(ctx, buf, off, 0); err != nil {
					t.Error(err)
				}
				if err := h.Zero(ctx, off, 4096, 0); err != nil {
					t.Error(err)
				}
				if err := h.Extents(ctx, off, 4096, 0, NewExtentList(off, off+4096)); err != nil {
					t.Error(err)
				}
				if _, err := h.Capabilities(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
