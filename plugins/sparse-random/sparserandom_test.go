package sparserandom

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func percent(p float64) *float64 { return &p }

// openLayerHandle opens a disk as opts describe the way the server does: adapted by
// server.PluginLayer, which checks the capabilities the handle claims.
func openLayerHandle(t testing.TB, opts Options) server.LayerHandle {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.PluginLayer("sparse-random", p).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		_ = h.Finalize(ctx)
		_ = h.Close(ctx)
	})
	return h
}

func mustRead(t testing.TB, h server.LayerHandle, off int64, n int) []byte {
	t.Helper()
	p := bytes.Repeat([]byte{0xaa}, n) // garbage, so that holes are checked
	if err := h.ReadAt(context.Background(), p, off, 0); err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
	}
	return p
}

func mustExtents(t testing.TB, h server.LayerHandle, off, length int64, flags server.Flags) []server.Extent {
	t.Helper()
	e := server.NewExtentList(off, off+length)
	if err := h.Extents(context.Background(), off, length, flags, e); err != nil {
		t.Fatalf("Extents(%d, %d): %v", off, length, err)
	}
	return e.Extents()
}

// allExtents asks for extents until the whole disk is covered, as a client does.
func allExtents(t testing.TB, h server.LayerHandle, size int64) []server.Extent {
	t.Helper()
	var all []server.Extent
	for off := int64(0); off < size; {
		for _, x := range mustExtents(t, h, off, size-off, 0) {
			all = append(all, x)
			off = x.Offset + x.Length
		}
	}
	return all
}

// TestExtentsTellTheTruth reads a whole disk and checks each block against the
// extents: holes read as zeroes, and data does not; by default each data block is
// one non-zero byte repeated.
func TestExtentsTellTheTruth(t *testing.T) {
	for _, random := range []bool{false, true} {
		t.Run("random-content="+strconv.FormatBool(random), func(t *testing.T) {
			const size = 64<<20 + 1000 // a short last block
			h := openLayerHandle(t, Options{Size: size, Seed: 1, Percent: percent(30), RunLength: 64 << 10, RandomContent: random})
			data := mustRead(t, h, 0, size)
			extents := allExtents(t, h, size)
			var dataBytes int64
			for _, x := range extents {
				for off := x.Offset; off < x.Offset+x.Length; off += blockSize {
					block := data[off:min(off+blockSize, size)]
					zero := bytes.Count(block, []byte{0}) == len(block)
					switch {
					case x.Type == server.ExtentHole|server.ExtentZero && !zero:
						t.Fatalf("the hole at %d holds data", off)
					case x.Type == server.ExtentData && zero:
						t.Fatalf("the data at %d reads as zeroes", off)
					case x.Type == server.ExtentData && !random && bytes.Count(block, block[:1]) != len(block):
						t.Fatalf("the data block at %d is not one byte repeated", off)
					case x.Type != server.ExtentData && x.Type != server.ExtentHole|server.ExtentZero:
						t.Fatalf("extent %v has an odd type", x)
					}
				}
				if x.Type == server.ExtentData {
					dataBytes += x.Length
				}
			}
			if share := float64(dataBytes) / size; share < 0.2 || share > 0.4 {
				t.Errorf("%.2f of the disk is data, want about 0.3", share)
			}
		})
	}
}

// TestReadsAgreeWithAWholeRead reads a disk in pieces of every alignment and checks
// them against one read of the whole, and against another disk of the same seed
// that is bigger.
func TestReadsAgreeWithAWholeRead(t *testing.T) {
	for _, random := range []bool{false, true} {
		const size = 16<<20 + 3
		opts := Options{Size: size, Seed: 5, Percent: percent(50), RunLength: 8192, RandomContent: random}
		h := openLayerHandle(t, opts)
		whole := mustRead(t, h, 0, size)
		rng := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			off := rng.Int64N(size)
			n := rng.IntN(int(min(size-off, 20000))) + 1
			if got := mustRead(t, h, off, n); !bytes.Equal(got, whole[off:off+int64(n)]) {
				t.Fatalf("random-content=%v: %d bytes at %d differ from the whole read", random, n, off)
			}
		}
		opts.Size = 1 << 40
		bigger := openLayerHandle(t, opts)
		if !bytes.Equal(mustRead(t, bigger, 0, size), whole) {
			t.Errorf("random-content=%v: a bigger disk of the same seed starts otherwise", random)
		}
		opts.Seed++
		other := openLayerHandle(t, opts)
		if bytes.Equal(mustRead(t, other, 0, size), whole) {
			t.Errorf("random-content=%v: seeds 5 and 6 gave the same disk", random)
		}
	}
}

func TestWritesMustMatch(t *testing.T) {
	ctx := context.Background()
	const size = 8 << 20
	h := openLayerHandle(t, Options{Size: size, Seed: 2, Percent: percent(50), RunLength: 16384})
	data := mustRead(t, h, 0, size)
	if err := h.WriteAt(ctx, data[1000:size-1000], 1000, 0); err != nil {
		t.Fatalf("writing back what was read: %v", err)
	}
	hole := bytes.IndexByte(data, 0)
	notHole := slices.IndexFunc(data, func(b byte) bool { return b != 0 })
	for _, at := range []int{hole, notHole, size - 1} {
		changed := bytes.Clone(data)
		changed[at] ^= 0x40
		err := h.WriteAt(ctx, changed, 0, server.FlagFUA)
		if server.ErrnoOf(err) != protocol.EIO {
			t.Fatalf("a write differing at %d: error %v, want EIO", at, err)
		}
		if want := "offset " + strconv.Itoa(at); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the %s", err, want)
		}
	}
}

func TestTrimAndZeroOnlyOnHoles(t *testing.T) {
	ctx := context.Background()
	const size = 8 << 20
	h := openLayerHandle(t, Options{Size: size, Seed: 3, Percent: percent(50), RunLength: 65536})
	for _, x := range allExtents(t, h, size) {
		wantErr := x.Type == server.ExtentData
		for name, op := range map[string]func(off, length int64, flags server.Flags) error{
			"zero": func(off, length int64, flags server.Flags) error { return h.Zero(ctx, off, length, flags) },
			"trim": func(off, length int64, flags server.Flags) error { return h.Trim(ctx, off, length, flags) },
		} {
			err := op(x.Offset, x.Length, server.FlagFUA)
			if got := server.ErrnoOf(err) == protocol.EIO; got != wantErr || err != nil && !wantErr {
				t.Errorf("%s of %v: %v", name, x, err)
			}
		}
	}
	// A range reaching one byte into data fails.
	for _, x := range allExtents(t, h, size) {
		if x.Type == server.ExtentData && x.Offset > 0 {
			if err := h.Zero(ctx, 0, x.Offset+1, 0); server.ErrnoOf(err) != protocol.EIO {
				t.Errorf("zeroing up to the first byte of data at %d: %v", x.Offset, err)
			}
			break
		}
	}
}

func TestExtentsOfPartsAndReqOne(t *testing.T) {
	const size = 32 << 20
	h := openLayerHandle(t, Options{Size: size, Seed: 4, Percent: percent(40), RunLength: 32768})
	all := allExtents(t, h, size)
	typeAt := func(off int64) server.ExtentType {
		for _, x := range all {
			if off < x.Offset+x.Length {
				return x.Type
			}
		}
		t.Fatalf("no extent at %d", off)
		return 0
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		off := rng.Int64N(size)
		length := min(rng.Int64N(1<<20)+1, size-off)
		got := mustExtents(t, h, off, length, 0)
		if got[0].Offset != off {
			t.Fatalf("extents of [%d, +%d) start at %d", off, length, got[0].Offset)
		}
		for _, x := range got {
			if typeAt(x.Offset) != x.Type || typeAt(x.Offset+x.Length-1) != x.Type {
				t.Fatalf("extent %v disagrees with the whole disk's", x)
			}
		}
		one := mustExtents(t, h, off, length, server.FlagReqOne)
		if len(one) != 1 || one[0].Type != got[0].Type || one[0].Offset != off {
			t.Fatalf("REQ_ONE extents of [%d, +%d): %v, want the first of %v", off, length, one, got)
		}
	}
}

func TestExtremeShares(t *testing.T) {
	empty := openLayerHandle(t, Options{Size: 1 << 30, Percent: percent(0)})
	if got := mustExtents(t, empty, 0, 1<<30, 0); len(got) != 1 || got[0].Type != server.ExtentHole|server.ExtentZero {
		t.Errorf("percent=0: extents %v, want one hole", got)
	}
	full := openLayerHandle(t, Options{Size: 1 << 30, Percent: percent(100)})
	if got := mustExtents(t, full, 0, 1<<30, 0); len(got) != 1 || got[0].Type != server.ExtentData {
		t.Errorf("percent=100: extents %v, want one data extent", got)
	}
	if bytes.IndexByte(mustRead(t, full, 12345, 1<<20), 0) >= 0 {
		t.Error("percent=100: a zero byte in data")
	}
}

func TestLargestDiskReadsAtTheEnd(t *testing.T) {
	const size = 1<<63 - 1
	h := openLayerHandle(t, Options{Size: size, Seed: 1, Percent: percent(100)})
	p := mustRead(t, h, size-5000, 5000)
	if bytes.IndexByte(p, 0) >= 0 {
		t.Error("a zero byte at the end of an all-data disk")
	}
	if got := mustExtents(t, h, size-5000, 5000, 0); len(got) != 1 || got[0].Offset+got[0].Length != size {
		t.Errorf("extents at the end: %v", got)
	}
}

// TestConcurrentReads reads a disk of many small superblocks from several goroutines
// at once, which share the cache of superblocks, and checks every read against a
// disk of the same seed read alone.
func TestConcurrentReads(t *testing.T) {
	const size = 1 << 36
	opts := Options{Size: size, Seed: 9, Percent: percent(50), RunLength: 4096}
	h := openLayerHandle(t, opts)
	reference := openLayerHandle(t, opts)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			ctx := context.Background()
			for range 200 {
				off, n := rng.Int64N(size-1<<16), rng.IntN(1<<16)
				got := make([]byte, n)
				if err := h.ReadAt(ctx, got, off, 0); err != nil {
					t.Error(err)
					return
				}
				e := server.NewExtentList(off, off+int64(n))
				if err := h.Extents(ctx, off, max(int64(n), 1), 0, e); err != nil {
					t.Error(err)
					return
				}
				want := make([]byte, n)
				if err := reference.ReadAt(ctx, want, off, 0); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%d bytes at %d differ between two handles", n, off)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCapabilitiesMatchNbdkit(t *testing.T) {
	h := openLayerHandle(t, Options{Size: 1 << 20})
	caps, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// What nbdinfo shows of nbdkit's sparse-random plugin, with FUA native: there is
	// nothing to flush.
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, Extents: true,
		FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	if err := h.Flush(context.Background(), 0); err != nil {
		t.Errorf("flush: %v", err)
	}
	if err := h.Cache(context.Background(), 0, 1<<20, 0); err != nil {
		t.Errorf("cache: %v", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, opts := range []Options{
		{Size: -1},
		{Size: 1, Percent: percent(-0.1)},
		{Size: 1, Percent: percent(100.5)},
		{Size: 1, RunLength: -1},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

// TestHotPathDoesNotAllocate: once the superblocks in use are made, reads, matching
// writes and block status allocate nothing.
func TestHotPathDoesNotAllocate(t *testing.T) {
	for _, random := range []bool{false, true} {
		ctx := context.Background()
		h := openLayerHandle(t, Options{Size: 1 << 30, Seed: 1, Percent: percent(50), RunLength: 65536, RandomContent: random})
		buf := mustRead(t, h, 4097, 256<<10)
		e := server.NewExtentList(0, 1<<30)
		requests := map[string]func(){
			"read":    func() { _ = h.ReadAt(ctx, buf, 4097, 0) },
			"write":   func() { _ = h.WriteAt(ctx, buf, 4097, 0) },
			"extents": func() { e.Reset(4097, 4097+256<<10); _ = h.Extents(ctx, 4097, 256<<10, 0, e) },
		}
		for name, request := range requests {
			if allocs := testing.AllocsPerRun(50, request); allocs != 0 {
				t.Errorf("random-content=%v: %s allocates %v times", random, name, allocs)
			}
		}
	}
}

func BenchmarkRead1M(b *testing.B) {
	for _, random := range []bool{false, true} {
		b.Run("random-content="+strconv.FormatBool(random), func(b *testing.B) {
			ctx := context.Background()
			h := openLayerHandle(b, Options{Size: 1 << 40, Seed: 1, Percent: percent(50), RandomContent: random})
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := h.ReadAt(ctx, buf, int64(i%(1<<16))<<20, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
