package pattern

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// patternByte is the byte at off, computed the slow and obvious way: byte i of a
// word is the i-th most significant byte of the word's offset.
func patternByte(off int64) byte {
	word := uint64(off &^ 7)
	return byte(word >> (8 * (7 - off%8)))
}

func TestFillMatchesTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(off int64, n int) {
		p := bytes.Repeat([]byte{0xaa}, n)
		fill(p, off)
		for i := range p {
			if want := patternByte(off + int64(i)); p[i] != want {
				t.Fatalf("fill(%d bytes at %d): byte %d is %#x, want %#x", n, off, i, p[i], want)
			}
		}
	}
	for off := int64(0); off < 24; off++ {
		for n := 0; n < 24; n++ {
			check(off, n)
		}
	}
	for range 1000 {
		check(rng.Int64N(1<<40), rng.IntN(10000))
	}
	check(1<<63-1-100, 100) // the end of the largest disk
}

func TestFillExamples(t *testing.T) {
	p := make([]byte, 24)
	fill(p, 0x28)
	want := []byte{0, 0, 0, 0, 0, 0, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0x38}
	if !bytes.Equal(p, want) {
		t.Errorf("fill at 0x28 = %x, want %x", p, want)
	}
	p = make([]byte, 3)
	fill(p, 0x0102030405060700+5)
	if want := []byte{0x06, 0x07, 0x00}; !bytes.Equal(p, want) {
		t.Errorf("fill inside a word = %x, want %x", p, want)
	}
}

func TestThroughPluginLayer(t *testing.T) {
	ctx := context.Background()
	p, err := New(Options{Size: 1000001}) // not a multiple of 8
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.PluginLayer("pattern", p).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What nbdinfo shows of nbdkit's pattern plugin: read-only.
	if want := (server.Capabilities{MultiConn: true, Cache: server.CacheNative}); caps != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", caps, want)
	}
	last := make([]byte, 3)
	if err := h.ReadAt(ctx, last, 1000001-3, 0); err != nil {
		t.Fatal(err)
	}
	// 999998 and 999999 are the last two bytes of the word of 999992 = 0xf4238;
	// 1000000 is the first byte of the word of 0xf4240, cut short by the end.
	if want := []byte{0x42, 0x38, 0x00}; !bytes.Equal(last, want) {
		t.Errorf("the last bytes are %x, want %x", last, want)
	}
	e := server.NewExtentList(0, 1000001)
	if err := h.Extents(ctx, 0, 1000001, 0, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); len(got) != 1 || got[0] != (server.Extent{Offset: 0, Length: 1000001, Type: server.ExtentData}) {
		t.Errorf("extents = %v, want one data extent", got)
	}
	if err := h.WriteAt(ctx, []byte{1}, 0, 0); err == nil {
		t.Error("a write succeeded on the read-only disk")
	}
	if err := h.Cache(ctx, 0, 1000001, 0); err != nil {
		t.Errorf("cache: %v", err)
	}
}

func TestNewRefusesNegativeSize(t *testing.T) {
	if _, err := New(Options{Size: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
}

func TestReadDoesNotAllocate(t *testing.T) {
	p, _ := New(Options{Size: 1 << 20})
	h, _ := p.Open(context.Background(), server.OpenRequest{})
	buf := make([]byte, 4099)
	if allocs := testing.AllocsPerRun(100, func() { _ = h.ReadAt(context.Background(), buf, 3) }); allocs != 0 {
		t.Errorf("ReadAt allocates %v times per read", allocs)
	}
}

func BenchmarkRead64K(b *testing.B) {
	p, _ := New(Options{Size: 1 << 30})
	h, _ := p.Open(context.Background(), server.OpenRequest{})
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = h.ReadAt(context.Background(), buf, int64(i%(1<<14))*int64(len(buf)))
	}
}
