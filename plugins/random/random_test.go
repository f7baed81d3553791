package random

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// openLayerHandle opens a disk as opts describe the way the server does: adapted by
// server.PluginLayer, which checks the capabilities the handle claims.
func openLayerHandle(t testing.TB, opts Options) server.LayerHandle {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.PluginLayer("random", p).Open(ctx, server.OpenRequest{})
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
	p := make([]byte, n)
	if err := h.ReadAt(context.Background(), p, off, 0); err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
	}
	return p
}

// TestBytesFollowTheDefinition checks fill against the generator's words, byte by
// byte, at every alignment.
func TestBytesFollowTheDefinition(t *testing.T) {
	g := newGenerator(42)
	byteAt := func(off int64) byte {
		var word [8]byte
		binary.LittleEndian.PutUint64(word[:], g.word(uint64(off/8)))
		return word[off%8]
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		off, n := rng.Int64N(1<<50), rng.IntN(100)
		p := make([]byte, n)
		g.fill(p, off)
		for i := range p {
			if want := byteAt(off + int64(i)); p[i] != want {
				t.Fatalf("fill(%d bytes at %d): byte %d is %#x, want %#x", n, off, i, p[i], want)
			}
		}
	}
}

// TestReadsAgreeWithAWholeRead reads a disk in pieces of every alignment and checks
// that they agree with one read of the whole, and that another handle with the same
// seed reads the same.
func TestReadsAgreeWithAWholeRead(t *testing.T) {
	const size = 1<<20 + 3
	h := openLayerHandle(t, Options{Size: size, Seed: 7})
	whole := mustRead(t, h, 0, size)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		off := rng.Int64N(size)
		n := rng.IntN(int(min(size-off, 5000)) + 1)
		if got := mustRead(t, h, off, n); !bytes.Equal(got, whole[off:off+int64(n)]) {
			t.Fatalf("read of %d bytes at %d differs from the whole read", n, off)
		}
	}
	again := openLayerHandle(t, Options{Size: size, Seed: 7})
	if !bytes.Equal(mustRead(t, again, 0, size), whole) {
		t.Error("the same seed gave other data")
	}
	other := openLayerHandle(t, Options{Size: size, Seed: 8})
	if bytes.Equal(mustRead(t, other, 0, 4096), whole[:4096]) {
		t.Error("seeds 7 and 8 gave the same data")
	}
}

// TestDataLooksRandom is a sanity check of the generator: every byte value is about
// as frequent as the others, and neighbouring words are not alike.
func TestDataLooksRandom(t *testing.T) {
	const n = 1 << 20
	p := make([]byte, n)
	newGenerator(0).fill(p, 0)
	var counts [256]int
	for _, b := range p {
		counts[b]++
	}
	for value, count := range counts {
		// 4096 expected, with a standard deviation of 64: ±20% is far out.
		if count < n/256*8/10 || count > n/256*12/10 {
			t.Errorf("byte %#x occurs %d times in 1 MiB, want about %d", value, count, n/256)
		}
	}
	if bytes.Equal(p[:8], p[8:16]) || bytes.Equal(p[:4096], p[4096:8192]) {
		t.Error("the data repeats itself")
	}
}

func TestWritesMustMatch(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, Options{Size: 1 << 20, Seed: 1})
	data := mustRead(t, h, 1001, 10000)
	if err := h.WriteAt(ctx, data, 1001, 0); err != nil {
		t.Fatalf("writing back what was read: %v", err)
	}
	for _, at := range []int{0, 5, 7, 8, 5000, 9999} {
		changed := bytes.Clone(data)
		changed[at] ^= 1
		err := h.WriteAt(ctx, changed, 1001, 0)
		if server.ErrnoOf(err) != protocol.EIO {
			t.Fatalf("a write differing at byte %d: error %v, want EIO", at, err)
		}
		if want := "offset " + strconv.Itoa(1001+at); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the %s", err, want)
		}
	}
}

func TestTrimAndZeroFail(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, Options{Size: 1 << 20, Seed: 1})
	if err := h.Trim(ctx, 0, 4096, 0); server.ErrnoOf(err) != protocol.EIO {
		t.Errorf("trim: %v, want EIO", err)
	}
	if err := h.Zero(ctx, 4096, 4096, 0); server.ErrnoOf(err) != protocol.EIO {
		t.Errorf("zero: %v, want EIO", err)
	}
}

// TestZeroSucceedsWhereTheDiskReadsZeroes finds a zero byte in the data and zeroes
// just it: the rule is that the disk must already hold what is written.
func TestZeroSucceedsWhereTheDiskReadsZeroes(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, Options{Size: 1 << 20, Seed: 1})
	data := mustRead(t, h, 0, 1<<20)
	at := bytes.IndexByte(data, 0)
	if at < 0 {
		t.Fatal("no zero byte in 1 MiB of random data")
	}
	if err := h.Zero(ctx, int64(at), 1, 0); err != nil {
		t.Errorf("zeroing the zero byte at %d: %v", at, err)
	}
}

func TestCapabilitiesMatchNbdkit(t *testing.T) {
	h := openLayerHandle(t, Options{Size: 1 << 20})
	caps, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// What nbdinfo shows of nbdkit's random plugin.
	want := server.Capabilities{Write: true, Trim: true, Zero: true, MultiConn: true, Cache: server.CacheNative}
	if caps != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	if err := h.Cache(context.Background(), 0, 1<<20, 0); err != nil {
		t.Errorf("cache: %v", err)
	}
}

func TestNewRefusesNegativeSize(t *testing.T) {
	if _, err := New(Options{Size: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	h := openLayerHandle(t, Options{Size: 1 << 20, Seed: 9})
	buf := make([]byte, 4099)
	if err := h.ReadAt(ctx, buf, 3, 0); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = h.ReadAt(ctx, buf, 3, 0) }); allocs != 0 {
		t.Errorf("a read allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = h.WriteAt(ctx, buf, 3, 0) }); allocs != 0 {
		t.Errorf("a matching write allocates %v times", allocs)
	}
}

func BenchmarkRead64K(b *testing.B) {
	ctx := context.Background()
	h := openLayerHandle(b, Options{Size: 1 << 30})
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := h.ReadAt(ctx, buf, int64(i%(1<<14))*int64(len(buf)), 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite64K(b *testing.B) {
	ctx := context.Background()
	h := openLayerHandle(b, Options{Size: 1 << 30})
	buf := make([]byte, 64<<10)
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := h.WriteAt(ctx, buf, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
}
