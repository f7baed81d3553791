package cow

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// newFilter returns the filter in front of d with opts, its overlay in a temporary
// directory, ready to serve.
func newFilter(t *testing.T, d *servertest.Disk, opts Options) *Filter {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	f, err := New(d.Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.GetReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Cleanup(context.Background()) })
	return f
}

// open opens a connection's handle of f.
func open(t *testing.T, f *Filter) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Finalize(ctx)
		h.Close(ctx)
	})
	return h
}

// randomDisk returns a read-only disk of size random bytes and a copy of them.
func randomDisk(size int64, seed uint64) (*servertest.Disk, []byte) {
	d := servertest.NewDisk(size)
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(data)
	d.SetBytes(data, 0)
	d.ReadOnly = true
	return d, data
}

func readAll(t *testing.T, h server.LayerHandle, size int64) []byte {
	t.Helper()
	got := make([]byte, size)
	if err := h.ReadAt(context.Background(), got, 0, 0); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkUntouched fails the test if anything reached d but reads, cache and extents.
func checkUntouched(t *testing.T, d *servertest.Disk, original []byte) {
	t.Helper()
	c := d.Counts()
	if n := c.Writes.Load() + c.Zeros.Load() + c.Trims.Load() + c.Flushes.Load(); n != 0 {
		t.Errorf("%d writes, zeroes, trims or flushes reached the plugin", n)
	}
	if !bytes.Equal(d.Bytes(), original) {
		t.Error("the plugin's data changed")
	}
}

func TestCapabilitiesOverReadOnlyPlugin(t *testing.T) {
	ctx := context.Background()
	d, _ := randomDisk(1<<20, 1)
	h := open(t, newFilter(t, d, Options{}))
	c, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
		Extents: true, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if c != want {
		t.Errorf("capabilities\n got %+v\nwant %+v", c, want)
	}
	bs, err := h.BlockSize(ctx)
	if err != nil || bs.Preferred != DefaultBlockSize {
		t.Errorf("block size %+v, %v; want the overlay's block size preferred", bs, err)
	}
}

// op is a change made both to the filter and to the model.
type op struct {
	kind        string // "write", "zero", "trim"
	off, length int64
	fill        byte
}

func randomOps(r *rand.Rand, n int, size, blockSize int64) []op {
	ops := make([]op, n)
	for i := range ops {
		o := &ops[i]
		switch k := r.IntN(10); {
		case k < 7:
			o.kind = "write"
		case k < 9:
			o.kind = "zero"
		default:
			o.kind = "trim"
		}
		// Mostly small unaligned ranges, sometimes several blocks.
		o.length = 1 + r.Int64N(blockSize/2)
		if r.IntN(4) == 0 {
			o.length = 1 + r.Int64N(4*blockSize)
		}
		o.length = min(o.length, size)
		o.off = r.Int64N(size - o.length + 1)
		o.fill = byte(1 + r.IntN(255))
	}
	return ops
}

// apply makes o through h, and to model, which is what a trim does to the model: only
// the blocks it covers whole read as zeroes afterwards.
func apply(ctx context.Context, h server.LayerHandle, o op, model []byte, blockSize int64) error {
	switch o.kind {
	case "write":
		p := bytes.Repeat([]byte{o.fill}, int(o.length))
		copy(model[o.off:], p)
		return h.WriteAt(ctx, p, o.off, 0)
	case "zero":
		clear(model[o.off : o.off+o.length])
		return h.Zero(ctx, o.off, o.length, server.FlagMayTrim)
	default:
		size := int64(len(model))
		for b := o.off / blockSize; b*blockSize < o.off+o.length; b++ {
			start, end := b*blockSize, min(b*blockSize+blockSize, size)
			if start >= o.off && end <= o.off+o.length {
				clear(model[start:end])
			}
		}
		return h.Trim(ctx, o.off, o.length, 0)
	}
}

func TestRandomChangesMatchModel(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		size      int64
		blockSize int64
		onRead    bool
	}{
		{"64K blocks", 1 << 20, 64 << 10, false},
		{"4K blocks, short last block", 300<<10 + 123, 4096, false},
		{"cow-on-read", 300<<10 + 123, 4096, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, original := randomDisk(tc.size, 2)
			f := newFilter(t, d, Options{BlockSize: tc.blockSize, OnRead: Trigger{On: tc.onRead}})
			h := open(t, f)
			model := slices.Clone(original)
			r := rand.New(rand.NewPCG(3, 4))
			for i, o := range randomOps(r, 500, tc.size, tc.blockSize) {
				if err := apply(ctx, h, o, model, tc.blockSize); err != nil {
					t.Fatalf("op %d %+v: %v", i, o, err)
				}
				if i%50 == 0 {
					// Reads at random places in between, checked against the model.
					off := r.Int64N(tc.size)
					got := make([]byte, min(tc.size-off, 1+r.Int64N(3*tc.blockSize)))
					if err := h.ReadAt(ctx, got, off, 0); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, model[off:off+int64(len(got))]) {
						t.Fatalf("after op %d, the read at %d differs from the model", i, off)
					}
				}
			}
			if !bytes.Equal(readAll(t, h, tc.size), model) {
				t.Error("the merged view differs from the model")
			}
			// A second connection sees the same overlay.
			if !bytes.Equal(readAll(t, open(t, f), tc.size), model) {
				t.Error("another connection sees a different disk")
			}
			checkUntouched(t, d, original)
		})
	}
}

// TestConcurrentPartialWrites has goroutines write interleaved small pieces of the same
// blocks at once: every piece must land, which needs the per-block lock around each
// read-modify-write.
func TestConcurrentPartialWrites(t *testing.T) {
	ctx := context.Background()
	const size, blockSize, writers, piece = 256 << 10, 4096, 8, 512
	d, original := randomDisk(size, 5)
	f := newFilter(t, d, Options{BlockSize: blockSize})
	model := slices.Clone(original)
	var wg sync.WaitGroup
	for w := range writers {
		h := open(t, f)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := bytes.Repeat([]byte{byte(w + 1)}, piece)
			// Writer w owns the pieces w, w+writers, ...: every block is written by
			// every writer.
			for off := int64(w * piece); off < size; off += writers * piece {
				if err := h.WriteAt(ctx, p, off, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for off := int64(w * piece); off < size; off += writers * piece {
			copy(model[off:off+piece], bytes.Repeat([]byte{byte(w + 1)}, piece))
		}
	}
	// Readers run at the same time, for the race detector.
	for range 2 {
		h := open(t, f)
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 3*blockSize)
			for off := int64(0); off+int64(len(buf)) <= size; off += 5000 {
				if err := h.ReadAt(ctx, buf, off, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !bytes.Equal(readAll(t, open(t, f), size), model) {
		t.Error("some concurrent partial writes were lost")
	}
	checkUntouched(t, d, original)
}

func TestZeroReadsNothing(t *testing.T) {
	ctx := context.Background()
	d, _ := randomDisk(1<<20, 6)
	h := open(t, newFilter(t, d, Options{}))
	if err := h.Zero(ctx, 0, 1<<20, server.FlagFastZero); err != nil {
		t.Fatal(err)
	}
	if n := d.Counts().Reads.Load(); n != 0 {
		t.Errorf("zeroing whole blocks read the plugin %d times", n)
	}
	if got := readAll(t, h, 1<<20); !bytes.Equal(got, make([]byte, 1<<20)) {
		t.Error("the zeroed disk does not read as zeroes")
	}
	if n := d.Counts().Reads.Load(); n != 0 {
		t.Errorf("reading zeroed blocks read the plugin %d times", n)
	}
}

func TestExtents(t *testing.T) {
	ctx := context.Background()
	const bs = 64 << 10
	d := servertest.NewDisk(1 << 20) // all holes
	d.SetBytes([]byte{1}, 5*bs)      // plugin data in block 5
	f := newFilter(t, d, Options{})
	h := open(t, f)
	if err := h.WriteAt(ctx, []byte{2}, 1*bs+10, 0); err != nil { // block 1 changed
		t.Fatal(err)
	}
	if err := h.WriteAt(ctx, []byte{3}, 5*bs, 0); err != nil { // block 5 changed
		t.Fatal(err)
	}
	if err := h.Trim(ctx, 2*bs, 2*bs, 0); err != nil { // blocks 2 and 3 zeroed
		t.Fatal(err)
	}
	d.SetBytes([]byte{4}, 7*bs) // plugin data in block 7, seen through the filter
	e := server.NewExtentList(100, 1<<20)
	if err := h.Extents(ctx, 100, 1<<20-100, 0, e); err != nil {
		t.Fatal(err)
	}
	hole := server.ExtentHole | server.ExtentZero
	want := []server.Extent{
		{Offset: 100, Length: bs - 100, Type: hole},           // block 0: the plugin's hole
		{Offset: bs, Length: bs, Type: server.ExtentData},     // block 1: overlay
		{Offset: 2 * bs, Length: 3 * bs, Type: hole},          // 2, 3 zeroed; 4 the plugin's hole
		{Offset: 5 * bs, Length: bs, Type: server.ExtentData}, // block 5: overlay
		{Offset: 6 * bs, Length: bs, Type: hole},
		{Offset: 7 * bs, Length: 4096, Type: server.ExtentData}, // the plugin's 4K block
		{Offset: 7*bs + 4096, Length: 1<<20 - 7*bs - 4096, Type: hole},
	}
	if got := e.Extents(); !slices.Equal(got, want) {
		t.Errorf("extents\n got %v\nwant %v", got, want)
	}
	one := server.NewExtentList(bs, 1<<20)
	if err := h.Extents(ctx, bs, 1<<20-bs, server.FlagReqOne, one); err != nil {
		t.Fatal(err)
	}
	if got := one.Extents(); len(got) != 1 || got[0] != want[1] {
		t.Errorf("REQ_ONE extents: %v", got)
	}
}

func TestCopyOnRead(t *testing.T) {
	ctx := context.Background()
	trigger := filepath.Join(t.TempDir(), "cow-on-read")
	d, original := randomDisk(1<<20, 7)
	h := open(t, newFilter(t, d, Options{OnRead: Trigger{Path: trigger}}))
	reads := func() int64 { return d.Counts().Reads.Load() }

	readAll(t, h, 1<<20)
	readAll(t, h, 1<<20)
	if n := reads(); n != 2 {
		t.Fatalf("without the trigger file, two reads reached the plugin %d times, want 2", n)
	}
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 100)
	if err := h.ReadAt(ctx, p, 70000, 0); err != nil || !bytes.Equal(p, original[70000:70100]) {
		t.Fatalf("read with cow-on-read: %v", err)
	}
	if n := reads(); n != 3 {
		t.Fatalf("copy-on-read of one block read the plugin %d times in all, want 3", n)
	}
	if err := os.Remove(trigger); err != nil {
		t.Fatal(err)
	}
	// The copied block now comes from the overlay even with the trigger gone.
	if err := h.ReadAt(ctx, p, 65536, 0); err != nil || !bytes.Equal(p, original[65536:65636]) {
		t.Fatalf("read of a copied block: %v", err)
	}
	if n := reads(); n != 3 {
		t.Errorf("a read of a copied block reached the plugin (%d reads)", n)
	}
	checkUntouched(t, d, original)
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	t.Run("passed on", func(t *testing.T) {
		d, _ := randomDisk(1<<20, 8)
		h := open(t, newFilter(t, d, Options{}))
		if err := h.WriteAt(ctx, []byte{1}, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := h.Cache(ctx, 0, 1<<20, 0); err != nil {
			t.Fatal(err)
		}
		if n := d.Counts().Caches.Load(); n != 1 {
			t.Errorf("%d cache requests reached the plugin, want 1 (for the unchanged blocks)", n)
		}
	})
	t.Run("cow-on-cache", func(t *testing.T) {
		d, original := randomDisk(1<<20, 9)
		h := open(t, newFilter(t, d, Options{OnCache: true}))
		if err := h.Cache(ctx, 100, 200<<10, 0); err != nil {
			t.Fatal(err)
		}
		before := d.Counts().Reads.Load()
		if before != 4 {
			t.Errorf("caching 4 blocks read the plugin %d times", before)
		}
		p := make([]byte, 256<<10)
		if err := h.ReadAt(ctx, p, 0, 0); err != nil || !bytes.Equal(p, original[:256<<10]) {
			t.Fatalf("read of cached blocks: %v", err)
		}
		if n := d.Counts().Reads.Load(); n != before {
			t.Errorf("reading cached blocks reached the plugin %d times", n-before)
		}
		if d.Counts().Caches.Load() != 0 {
			t.Error("a cache request reached the plugin")
		}
	})
}

func TestOverlayFileIsUnlinked(t *testing.T) {
	dir := t.TempDir()
	d, _ := randomDisk(1<<20, 10)
	h := open(t, newFilter(t, d, Options{TempDir: dir}))
	if err := h.WriteAt(context.Background(), make([]byte, 4096), 0, 0); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("the overlay's directory holds %v (%v), want nothing", entries, err)
	}
}

func TestUnusableTempDir(t *testing.T) {
	d, _ := randomDisk(4096, 11)
	f, err := New(d.Layer(), Options{TempDir: filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.GetReady(context.Background()); err == nil || !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("GetReady with a missing directory: %v", err)
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, want string }{
		{"cow-block-size=1000", "power of 2"},
		{"cow-block-size=2048", "power of 2"},
		{"cow-block-size=banana", "cow-block-size=banana"},
		{"cow-on-cache=maybe", "cow-on-cache=maybe"},
		{"cow-on-read=relative/path", "absolute path"},
	} {
		d := servertest.NewDisk(4096)
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.param, err, tc.want)
		}
	}
	d := servertest.NewDisk(4096)
	if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()},
		"cow-block-size=1M", "cow-on-cache=true", "cow-on-read=/nonexistent"); err != nil {
		t.Errorf("good parameters refused: %v", err)
	}
}
