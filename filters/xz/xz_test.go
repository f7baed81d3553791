package xz

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

// checkReads reads random ranges (many crossing blocks and streams) and the whole
// image through h and compares them with want.
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
	for range 30 {
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
	img := testImage(1<<20+12345, 1)
	half := len(img) / 2
	padding := make([]byte, 8)
	tests := []struct {
		name   string
		xz     []byte
		blocks int
	}{
		{"one block", xzCommand(t, img), 1},
		{"64 KiB blocks, CRC64", xzCommand(t, img, "--block-size=64KiB"), (len(img) + 65535) / 65536},
		{"CRC32", xzCommand(t, img, "--block-size=256KiB", "--check=crc32"), 5},
		{"SHA-256", xzCommand(t, img, "--block-size=256KiB", "--check=sha256"), 5},
		{"no check", xzCommand(t, img, "--block-size=256KiB", "--check=none"), 5},
		{"two streams with padding", slices.Concat(
			xzCommand(t, img[:half], "--block-size=100KiB"), padding,
			xzCommand(t, img[half:], "--block-size=300KiB", "--check=crc32"), padding[:4]), 6 + 2},
		{"an empty stream between", slices.Concat(
			xzCommand(t, img[:half]), xzCommand(t, nil), xzCommand(t, img[half:])), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, h := mustOpen(t, diskOf(tt.xz).Layer(), Options{MaxDepth: 3})
			checkReads(t, h, img, 2)
			if got := len(h.(*handle).x.blocks); got != tt.blocks {
				t.Errorf("%d blocks, want %d", got, tt.blocks)
			}
			if n := h.(*handle).export.cache.len(); n > 3 {
				t.Errorf("the cache holds %d blocks, more than xz-max-depth=3", n)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	_, h := mustOpen(t, diskOf(xzCommand(t, nil)).Layer(), Options{})
	checkReads(t, h, nil, 3)
}

// TestBadFilesAreRefused checks the errors of files whose index cannot be read.
func TestBadFilesAreRefused(t *testing.T) {
	img := testImage(1<<20, 4)
	xz := xzCommand(t, img, "--block-size=128KiB")
	flip := func(at int) []byte {
		b := bytes.Clone(xz)
		b[at] ^= 0x10
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"not xz", []byte("hello, world, this is not compressed!"), "not a multiple of 4"},
		{"not xz, aligned", []byte("hello, world, this is not compressed..."), "not an xz file"},
		{"zeroes", make([]byte, 64), "only zeroes"},
		{"truncated", xz[:len(xz)-4], "footer"},
		{"flipped footer", flip(len(xz) - 6), "footer"},
		{"flipped index", flip(len(xz) - 20), "index"},
		{"flipped header", flip(7), "header"},
		{"padding not a multiple of 4", append(bytes.Clone(xz), 0, 0), "multiple of 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := openLayer(t, diskOf(tt.data).Layer(), Options{})
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, syscall.EIO) {
				t.Errorf("error %q: want EIO and %q", err, tt.want)
			}
		})
	}
}

// TestCorruptBlocksFailReads flips a byte in each part of a block: the reads of that
// block fail with EIO, the others still work.
func TestCorruptBlocksFailReads(t *testing.T) {
	img := testImage(512<<10, 5)
	for i := range img {
		img[i] |= 1 // compressible enough, but no long runs
	}
	for _, check := range []string{"crc32", "crc64", "sha256", "none"} {
		t.Run(check, func(t *testing.T) {
			xz := xzCommand(t, img, "--block-size=64KiB", "--check="+check)
			d := diskOf(xz)
			_, h := mustOpen(t, d.Layer(), Options{MaxDepth: 1})
			ctx := context.Background()
			x := h.(*handle).x
			b := x.blocks[3]
			// The header, the middle of the data, the check (or the data's end).
			for _, at := range []int64{b.in + 2, b.in + b.unpadded/2, b.in + b.unpadded - 1} {
				orig := xz[at]
				d.SetBytes([]byte{orig ^ 0x04}, at)
				p := make([]byte, b.size)
				err := h.ReadAt(ctx, p, b.out, 0)
				d.SetBytes([]byte{orig}, at)
				if err == nil {
					if check == "none" && bytes.Equal(p, img[b.out:b.out+b.size]) {
						continue // a flip in nothing checked can be harmless
					}
					t.Fatalf("flip at %d: the read succeeded", at)
				}
				if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "corrupt") {
					t.Errorf("flip at %d: %v, want EIO saying the block is corrupt", at, err)
				}
				if err := h.ReadAt(ctx, p[:100], x.blocks[2].out, 0); err != nil ||
					!bytes.Equal(p[:100], img[x.blocks[2].out:x.blocks[2].out+100]) {
					t.Errorf("another block after the failed read: %v", err)
				}
			}
			// Once restored, the block reads.
			p := make([]byte, b.size)
			if err := h.ReadAt(ctx, p, b.out, 0); err != nil || !bytes.Equal(p, img[b.out:b.out+b.size]) {
				t.Errorf("the restored block: %v", err)
			}
		})
	}
}

func TestMaxBlock(t *testing.T) {
	img := testImage(1<<20, 7)
	xz := xzCommand(t, img, "--block-size=256KiB")
	_, _, err := openLayer(t, diskOf(xz).Layer(), Options{MaxBlock: 256<<10 - 1})
	if err == nil || !strings.Contains(err.Error(), "xz-max-block=262143") || !strings.Contains(err.Error(), "--block-size") {
		t.Errorf("a block over xz-max-block: %v", err)
	}
	_, h := mustOpen(t, diskOf(xz).Layer(), Options{MaxBlock: 256 << 10})
	checkReads(t, h, img, 8)
}

func TestSingleBlockIsServedWithAWarning(t *testing.T) {
	img := testImage(1<<20, 9)
	log := new(servertest.LogBuffer)
	layer, err := server.NewStack(diskOf(xzCommand(t, img)).Spec(), []server.FilterSpec{Spec()}, nil, log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, layer, server.Options{Logger: log.Logger()})
	c := s.Dial(t)
	p := make([]byte, 4096)
	if err := c.ReadAt(context.Background(), p, 500000, 0); err != nil || !bytes.Equal(p, img[500000:504096]) {
		t.Fatalf("read: %v", err)
	}
	if log := log.String(); !strings.Contains(log, "single block") {
		t.Errorf("no warning about the single block:\n%s", log)
	}
}

func TestUnsupportedFilterIsNamed(t *testing.T) {
	img := testImage(256<<10, 10)
	xz := xzCommand(t, img, "--x86", "--lzma2=preset=0")
	_, h := mustOpen(t, diskOf(xz).Layer(), Options{})
	err := h.ReadAt(context.Background(), make([]byte, 10), 0, 0)
	if err == nil || !strings.Contains(err.Error(), "filter 0x4 is not supported") {
		t.Errorf("reading a BCJ-filtered file: %v", err)
	}
}

func TestCapabilitiesAreReadOnly(t *testing.T) {
	data := xzCommand(t, []byte("read only"))
	d := servertest.NewDisk(int64(len(data)))
	d.SetBytes(data, 0) // a writable disk: the filter must still refuse writes
	_, h := mustOpen(t, d.Layer(), Options{})
	c, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Write || c.Trim || c.Zero || c.FastZero || c.FUA != server.FUANone || c.Extents {
		t.Errorf("capabilities: %+v", c)
	}
	if !c.MultiConn || c.Cache != server.CacheNative || !c.Flush {
		t.Errorf("capabilities: %+v", c)
	}
	if err := h.WriteAt(context.Background(), []byte("x"), 0, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteAt: %v, want EROFS", err)
	}
}

// TestConcurrentReads reads from many goroutines and two connections at once with a
// cache of two blocks, for the race detector and the cache's single loads.
func TestConcurrentReads(t *testing.T) {
	img := testImage(512<<10, 11)
	d := diskOf(xzCommand(t, img, "--block-size=64KiB"))
	f, h1 := mustOpen(t, d.Layer(), Options{MaxDepth: 2})
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
			for range 30 {
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

func TestCacheRequests(t *testing.T) {
	img := testImage(512<<10, 12)
	d := diskOf(xzCommand(t, img, "--block-size=64KiB"))
	_, h := mustOpen(t, d.Layer(), Options{MaxDepth: 100})
	ctx := context.Background()
	if err := h.Cache(ctx, 0, int64(len(img)), 0); err != nil {
		t.Fatal(err)
	}
	reads := d.Counts().Reads.Load()
	checkReads(t, h, img, 13)
	if got := d.Counts().Reads.Load(); got != reads {
		t.Errorf("reads after a cache request of everything went to the disk %d times", got-reads)
	}
}

func TestParameters(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tt := range []struct {
		params []string
		want   []string
	}{
		{[]string{"xz-max-block=banana"}, []string{"xz-max-block=banana"}},
		{[]string{"xz-max-block=0"}, []string{"xz-max-block=0"}},
		{[]string{"xz-max-depth=0"}, []string{"xz-max-depth=0", "from 1"}},
		{[]string{"xz-max-depth=-1"}, []string{"xz-max-depth=-1"}},
		{[]string{"xz-max-depth=lots"}, []string{"xz-max-depth=lots"}},
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
	p := server.NewParams([]server.Param{{Key: "xz-max-block", Value: "1M"}, {Key: "xz-max-depth", Value: "3"}}, nil)
	opts, err := optionsFromParams(p)
	if err != nil || opts.MaxBlock != 1<<20 || opts.MaxDepth != 3 || len(p.Unused()) != 0 {
		t.Errorf("options %+v, %v; unused %v", opts, err, p.Unused())
	}
	f, err := New(d.Layer(), Options{}, nil)
	if err != nil || f.Name() != "xz" || f.opts.MaxBlock != DefaultMaxBlock || f.opts.MaxDepth != DefaultMaxDepth {
		t.Errorf("New with the zero Options: %+v, %v", f.opts, err)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	img := testImage(1<<20, 14)
	_, h := mustOpen(t, diskOf(xzCommand(t, img, "--block-size=256KiB")).Layer(), Options{})
	ctx := context.Background()
	p := make([]byte, 4096)
	_ = h.ReadAt(ctx, p, 8192, 0) // load the block
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
	xz := slices.Concat(xzCommand(t, img[:300001], "--block-size=64KiB"), xzCommand(t, img[300001:], "--block-size=100KiB"))
	_, h := mustOpen(t, server.PluginLayer("constrained", constrainedPlugin{data: xz}), Options{MaxDepth: 2})
	checkReads(t, h, img, 14)
}

func TestFailedIndexingIsRetried(t *testing.T) {
	img := testImage(100<<10, 15)
	failures := new(atomic.Int32)
	failures.Store(1)
	ctx := context.Background()
	f, err := New(server.PluginLayer("flaky", constrainedPlugin{data: xzCommand(t, img), failures: failures}), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Cleanup(ctx)
	first := f.export("") // what GetReady does, without a race with the wait below
	<-first.done
	if first.err == nil || !strings.Contains(first.err.Error(), "a passing failure") {
		t.Fatalf("the first index reading: %v, want the plugin's failure", first.err)
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
