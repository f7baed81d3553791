package file

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// openDirectHandle opens path with cache=none (in the way opts say, if given) and
// checks that O_DIRECT is really in use. The test's temporary directory is usually on
// a file system that supports it (ext4, xfs, and tmpfs since Linux 6.6). Where it
// does not, the plugin must have fallen back with a warning: that is checked instead,
// said in the test's log, and the test goes on through the fallback, whose results
// must be the same.
func openDirectHandle(t *testing.T, path string, opts ...Options) (*Plugin, *handle, server.LayerHandle) {
	t.Helper()
	logger, log := testLogger()
	o := Options{File: path}
	if len(opts) > 0 {
		o = opts[0]
	}
	o.NoCache, o.Logger = true, logger
	p := newTestPlugin(t, o)
	h, err := p.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fh := h.(*handle)
	t.Cleanup(func() { fh.Close() })
	if fh.direct == nil {
		if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "O_DIRECT") {
			t.Fatalf("cache=none did not use O_DIRECT on %s, and did not warn; the plugin logged:\n%s", path, log)
		}
		t.Logf("the file system of %s refuses O_DIRECT: testing the fallback, which warned:\n%s", path, log)
		return p, fh, openLayer(t, p, "", false)
	}
	flags, err := unix.FcntlInt(fh.direct.direct.Fd(), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_DIRECT == 0 {
		t.Fatalf("the direct descriptor's flags are %#x (%v): no O_DIRECT", flags, err)
	}
	return p, fh, openLayer(t, p, "", false)
}

// misaligned returns a buffer of n bytes that starts off bytes after an aligned
// address, to exercise the bounce buffers with unaligned memory.
func misaligned(n, off int) []byte {
	raw := make([]byte, n+2*directAlign)
	skip := directAlign - int(uintptrOf(raw)%directAlign)
	return raw[skip+off : skip+off+n]
}

// TestCacheNoneUnaligned runs random reads and writes of every alignment (offset,
// length, memory) against a model of the file, on a file whose size is not aligned
// either, so that its last partial block goes through the page cache.
func TestCacheNoneUnaligned(t *testing.T) {
	const size = 3<<20 + 1234
	contents := randomBytes(t, size)
	path := writeTestFile(t, contents)
	_, fh, h := openDirectHandle(t, path)
	if fh.direct != nil && fh.direct.limit != 3<<20 {
		t.Fatalf("the direct part ends at %d, want %d", fh.direct.limit, 3<<20)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := randomBytes(t, 2*bounceSize+2*directAlign)
	lengths := []int{1, 511, 512, 4095, 4096, 4097, 8192, 65536 + 3, bounceSize, bounceSize + 4096 + 17}
	for i := range 400 {
		n := lengths[rng.IntN(len(lengths))]
		off := rng.Int64N(size - int64(n) + 1)
		if rng.IntN(3) == 0 {
			off = alignDown(off)
		}
		buf := misaligned(n, []int{0, 1, 512}[rng.IntN(3)])
		if i%2 == 0 {
			if err := h.ReadAt(context.Background(), buf, off, 0); err != nil {
				t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
			}
			if !bytes.Equal(buf, contents[off:off+int64(n)]) {
				t.Fatalf("ReadAt(%d, %d) differs from the file", off, n)
			}
			continue
		}
		copy(buf, noise[rng.IntN(len(noise)-n):])
		mustWriteAt(t, h, buf, off, 0)
		copy(contents[off:], buf)
	}
	if err := h.Flush(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	if len(got) != size {
		t.Fatalf("the file's size changed from %d to %d", size, len(got))
	}
	if !bytes.Equal(got, contents) {
		t.Error("the file does not hold what was written")
	}
}

// TestCacheNoneSharedBlocks has many goroutines write neighbouring byte ranges that
// share blocks, over two connections: each write reads, changes and writes back whole
// blocks, and without the edge locks some would undo others.
func TestCacheNoneSharedBlocks(t *testing.T) {
	const size = 64 << 10
	path := writeTestFile(t, make([]byte, size))
	p, _, h1 := openDirectHandle(t, path)
	h2 := openLayer(t, p, "", false)

	const writers, piece = 16, 700 // pieces straddle block boundaries
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := []server.LayerHandle{h1, h2}[w%2]
			for round := range 50 {
				p := bytes.Repeat([]byte{byte(w*50 + round)}, piece)
				if err := h.WriteAt(context.Background(), p, int64(w*piece), 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := readFile(t, path)
	for w := range writers {
		want := bytes.Repeat([]byte{byte(w*50 + 49)}, piece)
		if !bytes.Equal(got[w*piece:(w+1)*piece], want) {
			t.Errorf("writer %d's last write was undone by another", w)
		}
	}
}

// TestCacheNoneZeroAndTrim checks that zeroing and trimming unaligned ranges keep the
// bytes around them with cache=none.
func TestCacheNoneZeroAndTrim(t *testing.T) {
	contents := randomBytes(t, 1<<20)
	path := writeTestFile(t, contents)
	_, _, h := openDirectHandle(t, path)
	ctx := context.Background()
	if err := h.Zero(ctx, 1000, 10000, 0); err != nil {
		t.Fatal(err)
	}
	clear(contents[1000:11000])
	if err := h.Trim(ctx, 20000, 50000, 0); err != nil {
		t.Fatal(err)
	}
	clear(contents[20000:70000])
	if got := mustReadAt(t, h, 0, 1<<20); !bytes.Equal(got, contents) {
		t.Error("reading back differs after zero and trim")
	}
	if !bytes.Equal(readFile(t, path), contents) {
		t.Error("the file differs after zero and trim")
	}
}

// TestCacheNoneFD checks that cache=none works with fd= too: the plugin opens the
// file behind the descriptor again with O_DIRECT, leaving the descriptor's own flags
// alone.
func TestCacheNoneFD(t *testing.T) {
	contents := randomBytes(t, 1<<20)
	path := writeTestFile(t, contents)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _, h := openDirectHandle(t, path, Options{FD: f})
	mustWriteAt(t, h, []byte("direct"), 4097, server.FlagFUA)
	copy(contents[4097:], "direct")
	if got := mustReadAt(t, h, 0, 1<<20); !bytes.Equal(got, contents) {
		t.Error("reading back through fd= with cache=none differs")
	}
	if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || flags&unix.O_DIRECT != 0 {
		t.Errorf("the inherited descriptor's flags are %#x (%v): cache=none changed them", flags, err)
	}
}

// TestCacheNoneFallback serves a file on a file system that refuses O_DIRECT
// (procfs): the plugin warns, once, and serves it through the page cache.
func TestCacheNoneFallback(t *testing.T) {
	logger, log := testLogger()
	p := newTestPlugin(t, Options{File: "/proc/self/comm", NoCache: true, Logger: logger})
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "O_DIRECT") {
		t.Errorf("no warning at start-up that O_DIRECT was refused; the log:\n%s", log)
	}
	h, err := p.Open(context.Background(), server.OpenRequest{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.(*handle).Close()
	if h.(*handle).direct != nil {
		t.Error("the handle claims O_DIRECT on procfs")
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings after a second connection, want 1:\n%s", n, log)
	}
	want := readFile(t, "/proc/self/comm")
	got := make([]byte, len(want))
	if err := h.ReadAt(context.Background(), got, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read %q (%v), want %q", got, err, want)
	}
}

func TestEdgeLocks(t *testing.T) {
	var l edgeLocks
	tests := []struct {
		off, length int64
		want        lockedEdges
	}{
		{0, 4096, lockedEdges{-1, -1}},
		{0, 8192 * 3, lockedEdges{-1, -1}},
		{1, 10, lockedEdges{-1, 0}},
		{4095, 2, lockedEdges{0, 1}},
		{4096, 100, lockedEdges{-1, 1}},
		{100, 4096 * 64, lockedEdges{-1, 0}}, // both edges share lock 0
		{4096 * 65, 5000, lockedEdges{-1, 2}},
		{4096*63 + 1, 8192, lockedEdges{1, 63}},
	}
	for _, tt := range tests {
		held := l.lock(tt.off, tt.length)
		if held != tt.want {
			t.Errorf("lock(%d, %d) = %v, want %v", tt.off, tt.length, held, tt.want)
		}
		l.unlock(held)
	}
}

// testLogger returns a logger writing into a buffer the test can search.
func testLogger() (*slog.Logger, *servertest.LogBuffer) {
	buf := &servertest.LogBuffer{}
	return buf.Logger(), buf
}

// uintptrOf returns the address of a slice's first byte.
func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
