package gzip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// smallSpans makes many spans of a small test image.
var smallSpans = Options{SpanSize: minSpanSize, CacheSize: 4 * minSpanSize}

// checkReads reads random ranges (many crossing span and member boundaries) and the
// whole image through h and compares them with want.
func checkReads(t *testing.T, h server.LayerHandle, want []byte, seed uint64) {
	t.Helper()
	ctx := context.Background()
	size, err := h.Size(ctx)
	if err != nil || size != int64(len(want)) {
		t.Fatalf("Size() = %d, %v; want %d", size, err, len(want))
	}
	if len(want) == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 100 {
		off := rng.IntN(len(want))
		n := 1 + rng.IntN(min(len(want)-off, 200<<10))
		got := bytes.Repeat([]byte{0xee}, n)
		if err := h.ReadAt(ctx, got, int64(off), 0); err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		if !bytes.Equal(got, want[off:off+n]) {
			t.Fatalf("ReadAt(%d, %d) returned different data", off, n)
		}
	}
	got := make([]byte, len(want))
	if err := h.ReadAt(ctx, got, 0, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the whole image reads back differently")
	}
}

func TestReadsMatchTheUncompressedData(t *testing.T) {
	img := testImage(2<<20+12345, 1)
	tests := []struct {
		name string
		gz   []byte
		opts Options
	}{
		{"one member, default spans", gzipBytes(t, img), Options{}},
		{"one member, small spans", gzipBytes(t, img), smallSpans},
		{"members, small spans", gzipBytes(t, img, 1, 100000, 100000, 1<<20), smallSpans},
		{"cache smaller than a span", gzipBytes(t, img, 777777), Options{SpanSize: minSpanSize, CacheSize: 1}},
		// gzip(1) itself, with the empty stored blocks that --rsyncable adds.
		{"gzip --rsyncable -9", gzipCommand(t, img, "--rsyncable", "-9"), smallSpans},
		{"gzip -1", gzipCommand(t, img, "-1"), smallSpans},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, h := mustOpen(t, diskOf(tt.gz).Layer(), tt.opts)
			checkReads(t, h, img, 2)
			x := h.(*handle).x
			// Spans end at DEFLATE block boundaries, every few hundred KiB here.
			if tt.opts.SpanSize == minSpanSize && len(x.spans) < 10 {
				t.Errorf("%d spans for %d bytes with %d-byte spans", len(x.spans), len(img), minSpanSize)
			}
			for i := 1; i < len(x.spans); i++ {
				if x.spans[i].out <= x.spans[i-1].out {
					t.Fatalf("span %d starts at %d, not after span %d at %d", i, x.spans[i].out, i-1, x.spans[i-1].out)
				}
			}
			_, cached := h.(*handle).export.cache.stats()
			if limit := f.opts.CacheSize + 2*maxBlockOutput(x); cached > limit {
				t.Errorf("the cache holds %d bytes, more than its limit %d", cached, limit)
			}
		})
	}
}

// maxBlockOutput returns the longest span of x beyond the span size, a bound on how
// far the cache may exceed its limit when it holds one span.
func maxBlockOutput(x *index) int64 {
	var longest int64
	for i := range x.spans {
		longest = max(longest, x.spanEnd(i)-x.spans[i].out)
	}
	return longest
}

func TestEmptyAndTinyFiles(t *testing.T) {
	for _, data := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte{0}, zeroBlock+1)} {
		t.Run(fmt.Sprint(len(data)), func(t *testing.T) {
			_, h := mustOpen(t, diskOf(gzipBytes(t, data)).Layer(), Options{})
			checkReads(t, h, data, 3)
		})
	}
	t.Run("empty members", func(t *testing.T) {
		data := []byte("hello, world")
		gz := slices.Concat(gzipBytes(t, nil), gzipBytes(t, data, 0, 5, 5, 12), gzipBytes(t, nil))
		_, h := mustOpen(t, diskOf(gz).Layer(), Options{})
		checkReads(t, h, data, 4)
	})
}

func TestTrailingZeroesAreIgnored(t *testing.T) {
	img := testImage(200<<10, 5)
	gz := append(gzipBytes(t, img), make([]byte, 1000)...)
	_, h := mustOpen(t, diskOf(gz).Layer(), Options{})
	checkReads(t, h, img, 6)
}

// TestBadInputIsRefused checks that a stream that is not entirely valid gzip is not
// served at all, with an error saying what is wrong: the size of the data is only
// known at the end, so a stream cut short must not pass for a shorter disk.
func TestBadInputIsRefused(t *testing.T) {
	img := testImage(1<<20, 7)
	gz := gzipBytes(t, img, 300000)
	secondMember := len(gzipBytes(t, img[:300000]))
	flip := func(at int) []byte {
		b := bytes.Clone(gz)
		b[at] ^= 0x10
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"not gzip", []byte("hello, world, this is not compressed"), "not a gzip file"},
		{"bad method", append([]byte{0x1f, 0x8b, 7}, gz[3:]...), "compression method 7"},
		{"flipped byte in the data", flip(secondMember / 2), "member 1"},
		{"flipped byte in the second member", flip(secondMember + 5000), "member 2"},
		{"flipped CRC", flip(secondMember - 6), "CRC-32 mismatch"},
		{"flipped length", flip(secondMember - 2), "length mismatch"},
		{"truncated in the data", gz[:len(gz)/2], "truncated"},
		{"truncated in the trailer", gz[:len(gz)-3], "truncated"},
		{"truncated in the header", gz[:secondMember+5], "truncated"},
		{"trailing garbage", append(bytes.Clone(gz), "garbage"...), "after member 2"},
		{"garbage after zero padding", append(bytes.Clone(gz), 0, 0, 0, 'x'), "after the zero padding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := servertest.NewDisk(int64(len(tt.data)))
			d.SetBytes(tt.data, 0)
			_, _, err := openLayer(t, d.Layer(), smallSpans)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("error %q is not EIO", err)
			}
		})
	}
}

// TestChangedDataFailsReads checks that data decompressed after the index was built
// is checked against it: if the compressed file changes underneath, reads fail rather
// than return something else.
func TestChangedDataFailsReads(t *testing.T) {
	img := testImage(1<<20, 8)
	gz := gzipBytes(t, img)
	d := diskOf(gz)
	_, h := mustOpen(t, d.Layer(), smallSpans)
	ctx := context.Background()
	x := h.(*handle).x
	// Corrupt the compressed data in the middle of a span that holds data.
	i := len(x.spans) / 2
	for x.allZero(x.spans[i].out, x.spanEnd(i)-x.spans[i].out) {
		i++
	}
	at := (x.spans[i].in + x.spans[i+1].in) / 2
	d.SetBytes([]byte{gz[at] ^ 0xff, gz[at+1] ^ 0xff}, at)
	start, end := x.spans[i].out, x.spanEnd(i)
	p := make([]byte, end-start)
	err := h.ReadAt(ctx, p, start, 0)
	if err == nil {
		if bytes.Equal(p, img[start:end]) {
			t.Skip("the corruption happened to decode to the same data")
		}
		t.Fatal("a read of corrupted data succeeded with wrong data")
	}
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), fmt.Sprint(start)) {
		t.Errorf("error %q: want EIO naming offset %d", err, start)
	}
	// The spans before it still read.
	if err := h.ReadAt(ctx, p[:100], 0, 0); err != nil || !bytes.Equal(p[:100], img[:100]) {
		t.Errorf("reading the start after a failed read: %v", err)
	}
}

func TestExtentsReportZeroBlocks(t *testing.T) {
	img := make([]byte, 10*zeroBlock+100)
	img[zeroBlock+5] = 1                 // block 1 is data
	img[4*zeroBlock] = 1                 // block 4 too
	copy(img[10*zeroBlock:], "last bit") // the partial last block
	_, h := mustOpen(t, diskOf(gzipBytes(t, img)).Layer(), Options{})
	ctx := context.Background()
	e := server.NewExtentList(100, int64(len(img)))
	if err := h.Extents(ctx, 100, int64(len(img))-100, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 100, Length: zeroBlock - 100, Type: server.ExtentZero},
		{Offset: zeroBlock, Length: zeroBlock, Type: server.ExtentData},
		{Offset: 2 * zeroBlock, Length: 2 * zeroBlock, Type: server.ExtentZero},
		{Offset: 4 * zeroBlock, Length: zeroBlock, Type: server.ExtentData},
		{Offset: 5 * zeroBlock, Length: 5 * zeroBlock, Type: server.ExtentZero},
		{Offset: 10 * zeroBlock, Length: 100, Type: server.ExtentData},
	}
	if got := e.Extents(); !slices.Equal(got, want) {
		t.Errorf("extents:\n got %v\nwant %v", got, want)
	}
	e.Reset(2*zeroBlock, 8*zeroBlock)
	if err := h.Extents(ctx, 2*zeroBlock, 6*zeroBlock, server.FlagReqOne, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); len(got) != 1 || got[0] != (server.Extent{Offset: 2 * zeroBlock, Length: 2 * zeroBlock, Type: server.ExtentZero}) {
		t.Errorf("extents with REQ_ONE: %v", got)
	}
}

func TestCapabilitiesAreReadOnly(t *testing.T) {
	d := servertest.NewDisk(0)
	d.SetBytes(nil, 0)
	data := gzipBytes(t, []byte("read only"))
	d = servertest.NewDisk(int64(len(data)))
	d.SetBytes(data, 0) // a writable disk: the filter must still refuse writes
	_, h := mustOpen(t, d.Layer(), Options{})
	c, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Write || c.Trim || c.Zero || c.FastZero || c.FUA != server.FUANone {
		t.Errorf("write capabilities: %+v", c)
	}
	if !c.Extents || !c.MultiConn || c.Cache != server.CacheNative || !c.Flush {
		t.Errorf("capabilities: %+v", c)
	}
	if err := h.WriteAt(context.Background(), []byte("x"), 0, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteAt: %v, want EROFS", err)
	}
}

// TestConcurrentReads reads from many goroutines and connections at once, on few
// spans and a small cache, for the race detector and the cache's single loads.
func TestConcurrentReads(t *testing.T) {
	img := testImage(2<<20, 9)
	d := diskOf(gzipBytes(t, img, 1<<20))
	f, h1 := mustOpen(t, d.Layer(), Options{SpanSize: minSpanSize, CacheSize: 3 * minSpanSize})
	ctx := context.Background()
	h2, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close(ctx)
	if err := h2.Prepare(ctx, true); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		h := []server.LayerHandle{h1, h2}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			p := make([]byte, 8192)
			for range 80 {
				off := rng.IntN(len(img) - len(p))
				if err := h.ReadAt(ctx, p, int64(off), 0); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(p, img[off:off+len(p)]) {
					errs <- fmt.Errorf("worker %d: wrong data at %d", w, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCacheRequestsFillTheCache(t *testing.T) {
	img := testImage(1<<20, 10)
	d := diskOf(gzipBytes(t, img))
	_, h := mustOpen(t, d.Layer(), Options{SpanSize: minSpanSize, CacheSize: 64 << 20})
	ctx := context.Background()
	if err := h.Cache(ctx, 0, int64(len(img)), 0); err != nil {
		t.Fatal(err)
	}
	reads := d.Counts().Reads.Load()
	checkReads(t, h, img, 11)
	if got := d.Counts().Reads.Load(); got != reads {
		t.Errorf("reads after a cache request of everything went to the disk %d times", got-reads)
	}
}

func TestExportsAreIndexedSeparately(t *testing.T) {
	// A plugin that serves the export name, compressed: two exports, two indexes.
	plugin := exportPlugin{gz: map[string][]byte{
		"":      gzipBytes(t, []byte("the default export")),
		"other": gzipBytes(t, []byte("another export, longer")),
	}}
	f, err := New(server.PluginLayer("exports", plugin), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer f.Cleanup(ctx)
	if err := f.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"": "the default export", "other": "another export, longer"} {
		h, err := f.Open(ctx, server.OpenRequest{ExportName: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Prepare(ctx, true); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if err := h.ReadAt(ctx, got, 0, 0); err != nil || string(got) != want {
			t.Errorf("export %q reads %q, %v", name, got, err)
		}
		h.Close(ctx)
	}
}

// exportPlugin serves gz[exportName].
type exportPlugin struct{ gz map[string][]byte }

func (p exportPlugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	data, ok := p.gz[req.ExportName]
	if !ok {
		return nil, server.Errorf(syscall.ENOENT, "no export %q", req.ExportName)
	}
	return bytesHandle(data), nil
}

type bytesHandle []byte

func (b bytesHandle) Size(context.Context) (int64, error) { return int64(len(b)), nil }
func (b bytesHandle) ReadAt(ctx context.Context, p []byte, off int64) error {
	copy(p, b[off:])
	return nil
}

func TestParameters(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tt := range []struct {
		params []string
		want   []string
	}{
		{[]string{"gzip-span=banana"}, []string{"gzip-span=banana"}},
		{[]string{"gzip-span=1k"}, []string{"gzip-span", "64K"}},
		{[]string{"gzip-span=0"}, []string{"gzip-span=0", "64K"}},
		{[]string{"gzip-span=2G"}, []string{"gzip-span", "1G"}},
		{[]string{"gzip-cache=-1"}, []string{"gzip-cache=-1", "negative"}},
		{[]string{"gzip-cache=lots"}, []string{"gzip-cache=lots"}},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tt.params...)
		if err == nil {
			t.Errorf("%v: accepted", tt.params)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tt.params, err, w)
			}
		}
	}
	p := server.NewParams([]server.Param{{Key: "gzip-span", Value: "128k"}, {Key: "gzip-cache", Value: "1M"}}, nil)
	opts, err := optionsFromParams(p)
	if err != nil || opts.SpanSize != 128<<10 || opts.CacheSize != 1<<20 || len(p.Unused()) != 0 {
		t.Errorf("options %+v, %v; unused %v", opts, err, p.Unused())
	}
	f, err := New(d.Layer(), Options{}, nil)
	if err != nil || f.Name() != "gzip" || f.opts.SpanSize != DefaultSpanSize || f.opts.CacheSize != DefaultCacheSize {
		t.Errorf("New with the zero Options: %+v, %v", f.opts, err)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	img := testImage(1<<20, 12)
	_, h := mustOpen(t, diskOf(gzipBytes(t, img)).Layer(), Options{})
	ctx := context.Background()
	p := make([]byte, 4096)
	_ = h.ReadAt(ctx, p, 8192, 0) // load the span
	if n := testing.AllocsPerRun(100, func() { _ = h.ReadAt(ctx, p, 8192, 0) }); n != 0 {
		t.Errorf("a cached read allocates %v times", n)
	}
}

// constrainedPlugin serves data with block size constraints, refusing reads that break
// them, and fails the first failures opens.
type constrainedPlugin struct {
	data     []byte
	failures *atomic.Int32
}

func (p constrainedPlugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	if p.failures != nil && p.failures.Add(-1) >= 0 {
		return nil, server.Errorf(syscall.EAGAIN, "a passing failure")
	}
	return constrainedHandle(p.data), nil
}

type constrainedHandle []byte

func (b constrainedHandle) Size(context.Context) (int64, error) { return int64(len(b)), nil }

func (b constrainedHandle) BlockSize(context.Context) (server.BlockSize, error) {
	return server.BlockSize{Minimum: 512, Preferred: 4096, Maximum: 64 << 10}, nil
}

func (b constrainedHandle) ReadAt(ctx context.Context, p []byte, off int64) error {
	end := off + int64(len(p))
	if off%512 != 0 || (end%512 != 0 && end != int64(len(b))) || len(p) > 64<<10 {
		return server.Errorf(syscall.EINVAL, "read of %d bytes at %d breaks the block size constraints", len(p), off)
	}
	copy(p, b[off:])
	return nil
}

func TestNextLayerBlockSizeIsRespected(t *testing.T) {
	img := testImage(1<<20, 13)
	gz := gzipBytes(t, img, 300001)
	_, h := mustOpen(t, server.PluginLayer("constrained", constrainedPlugin{data: gz}), smallSpans)
	checkReads(t, h, img, 14)
}

func TestFailedIndexingIsRetried(t *testing.T) {
	img := testImage(100<<10, 15)
	failures := new(atomic.Int32)
	failures.Store(1)
	ctx := context.Background()
	f, err := New(server.PluginLayer("flaky", constrainedPlugin{data: gzipBytes(t, img), failures: failures}), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Cleanup(ctx)
	first := f.export("") // what GetReady does, without a race with the wait below
	<-first.done
	if first.err == nil || !strings.Contains(first.err.Error(), "a passing failure") {
		t.Fatalf("the first indexing: %v, want the plugin's failure", first.err)
	}
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, true); err != nil {
		t.Fatalf("a connection after the failure: %v", err)
	}
	checkReads(t, h, img, 16)
}

// gatedPlugin serves data, holding its first read until release is closed.
type gatedPlugin struct {
	data             []byte
	started, release chan struct{}
	reads            *atomic.Int32
}

func (p gatedPlugin) Open(context.Context, server.OpenRequest) (server.Handle, error) {
	return gatedHandle{p}, nil
}

type gatedHandle struct{ p gatedPlugin }

func (h gatedHandle) Size(context.Context) (int64, error) { return int64(len(h.p.data)), nil }

func (h gatedHandle) ReadAt(ctx context.Context, p []byte, off int64) error {
	if h.p.reads.Add(1) == 1 {
		close(h.p.started)
		<-h.p.release
	}
	copy(p, h.p.data[off:])
	return nil
}

// TestCleanupStopsIndexing checks that shutting down does not wait for the indexing
// pass to finish, even with a plugin that does not watch its context.
func TestCleanupStopsIndexing(t *testing.T) {
	img := testImage(8<<20, 17)
	p := gatedPlugin{data: gzipBytes(t, img), started: make(chan struct{}), release: make(chan struct{}), reads: new(atomic.Int32)}
	f, err := New(server.PluginLayer("gated", p), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	<-p.started
	done := make(chan struct{})
	go func() {
		f.Cleanup(ctx)
		close(done)
	}()
	<-f.ctx.Done() // Cleanup has asked the indexing to stop
	close(p.release)
	<-done
	if n, chunks := p.reads.Load(), int32(len(p.data)/indexReadSize); n >= chunks {
		t.Errorf("the indexing read %d of %d chunks after the server shut down", n, chunks)
	}
}
