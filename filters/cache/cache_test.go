package cache

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

// newFilter returns the filter in front of d with opts, its file in a temporary
// directory, ready to serve.
func newFilter(t *testing.T, d *servertest.Disk, opts Options) *Filter {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	f, err := New(d.Layer(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.GetReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Cleanup(context.Background()) })
	return f
}

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

// randomDisk returns a disk of size random bytes and a copy of them.
func randomDisk(size int64, seed byte) (*servertest.Disk, []byte) {
	d := servertest.NewDisk(size)
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{seed}).Read(data)
	d.SetBytes(data, 0)
	return d, data
}

func read(t *testing.T, h server.LayerHandle, off, length int64) []byte {
	t.Helper()
	p := make([]byte, length)
	if err := h.ReadAt(context.Background(), p, off, 0); err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", off, length, err)
	}
	return p
}

func TestCapabilities(t *testing.T) {
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
}

// TestModesMatchModel makes random writes and zeroes in each mode and checks reads
// against a model, and what reached the plugin before and after a flush.
func TestModesMatchModel(t *testing.T) {
	ctx := context.Background()
	const size = 1<<20 + 1000 // a short last block
	for _, mode := range []Mode{Writeback, Writethrough, Unsafe} {
		t.Run(mode.String(), func(t *testing.T) {
			d, original := randomDisk(size, 2)
			f := newFilter(t, d, Options{Mode: mode, MinBlockSize: 4096})
			h := open(t, f)
			model := slices.Clone(original)
			r := rand.New(rand.NewPCG(3, uint64(mode)))
			for i := range 400 {
				length := 1 + r.Int64N(20000)
				off := r.Int64N(size - length)
				var err error
				if r.IntN(4) == 0 {
					clear(model[off : off+length])
					err = h.Zero(ctx, off, length, 0)
				} else {
					p := bytes.Repeat([]byte{byte(i)}, int(length))
					copy(model[off:], p)
					err = h.WriteAt(ctx, p, off, 0)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(read(t, h, 0, size), model) {
				t.Fatal("reads differ from the model")
			}
			if !bytes.Equal(read(t, open(t, f), 0, size), model) {
				t.Fatal("another connection reads something else")
			}
			writes := d.Counts().Writes.Load() + d.Counts().Zeros.Load()
			switch mode {
			case Writethrough:
				if !bytes.Equal(d.Bytes(), model) {
					t.Error("writethrough: the plugin does not hold the writes")
				}
			default:
				if writes != 0 || !bytes.Equal(d.Bytes(), original) {
					t.Errorf("%v: %d writes reached the plugin before any flush", mode, writes)
				}
			}
			if err := h.Flush(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if mode == Unsafe {
				if d.Counts().Writes.Load() != 0 || d.Counts().Flushes.Load() != 0 {
					t.Error("unsafe: a flush reached the plugin")
				}
				return
			}
			if !bytes.Equal(d.Bytes(), model) {
				t.Error("after a flush, the plugin does not hold the writes")
			}
			if d.Counts().Flushes.Load() != 1 {
				t.Errorf("the plugin saw %d flushes, want 1", d.Counts().Flushes.Load())
			}
			// A second flush has nothing to write back.
			before := d.Counts().Writes.Load()
			if err := h.Flush(ctx, 0); err != nil || d.Counts().Writes.Load() != before {
				t.Errorf("a second flush wrote again (%v)", err)
			}
		})
	}
}

func TestReadsOfCachedBlocksStayLocal(t *testing.T) {
	d, original := randomDisk(1<<20, 4)
	h := open(t, newFilter(t, d, Options{}))
	ctx := context.Background()
	if err := h.WriteAt(ctx, []byte("written"), 100, 0); err != nil {
		t.Fatal(err)
	}
	reads := d.Counts().Reads.Load() // the read-modify-write of block 0
	if got := read(t, h, 0, 64<<10); !bytes.Equal(got[100:107], []byte("written")) || !bytes.Equal(got[:100], original[:100]) {
		t.Error("the written block reads back wrong")
	}
	if d.Counts().Reads.Load() != reads {
		t.Error("a read of a cached block reached the plugin")
	}
	// Without cache-on-read, other blocks are read from the plugin each time.
	read(t, h, 64<<10, 4096)
	read(t, h, 64<<10, 4096)
	if got := d.Counts().Reads.Load() - reads; got != 2 {
		t.Errorf("two reads of an uncached block reached the plugin %d times, want 2", got)
	}
}

func TestCacheOnRead(t *testing.T) {
	trigger := filepath.Join(t.TempDir(), "on")
	d, original := randomDisk(1<<20, 5)
	h := open(t, newFilter(t, d, Options{OnRead: Trigger{Path: trigger}}))
	read(t, h, 0, 1<<20)
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := read(t, h, 1000, 200<<10); !bytes.Equal(got, original[1000:1000+200<<10]) {
		t.Fatal("read with cache-on-read returned wrong data")
	}
	reads := d.Counts().Reads.Load()
	if got := read(t, h, 0, 256<<10); !bytes.Equal(got, original[:256<<10]) {
		t.Fatal("read of cached blocks returned wrong data")
	}
	if d.Counts().Reads.Load() != reads {
		t.Error("a read of blocks cached by an earlier read reached the plugin")
	}
}

func TestCacheRequest(t *testing.T) {
	ctx := context.Background()
	d, original := randomDisk(1<<20, 6)
	h := open(t, newFilter(t, d, Options{}))
	if err := h.Cache(ctx, 0, 1<<20, 0); err != nil {
		t.Fatal(err)
	}
	if d.Counts().Caches.Load() != 0 {
		t.Error("a cache request reached the plugin")
	}
	reads := d.Counts().Reads.Load()
	if !bytes.Equal(read(t, h, 0, 1<<20), original) {
		t.Fatal("wrong data after a cache request")
	}
	if d.Counts().Reads.Load() != reads {
		t.Error("reads after a cache request reached the plugin")
	}
}

func TestFUAInWriteback(t *testing.T) {
	ctx := context.Background()
	d, _ := randomDisk(1<<20, 7)
	h := open(t, newFilter(t, d, Options{}))
	if err := h.WriteAt(ctx, []byte("fua"), 5, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if c := d.Counts(); c.Writes.Load() != 1 || c.FUA.Load() != 1 || string(d.Bytes()[5:8]) != "fua" {
		t.Errorf("a FUA write in writeback mode: %d writes, %d with FUA reached the plugin", c.Writes.Load(), c.FUA.Load())
	}
	// The block was not in the cache, so the rest of it still comes from the plugin.
	if err := h.Flush(ctx, 0); err != nil || d.Counts().Writes.Load() != 1 {
		t.Errorf("the flush after a FUA write wrote again (%v)", err)
	}
}

func TestExtentsShowDirtyBlocks(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20) // all holes
	h := open(t, newFilter(t, d, Options{}))
	if err := h.WriteAt(ctx, []byte{1}, 64<<10, 0); err != nil {
		t.Fatal(err)
	}
	e := server.NewExtentList(0, 1<<20)
	if err := h.Extents(ctx, 0, 1<<20, 0, e); err != nil {
		t.Fatal(err)
	}
	hole := server.ExtentHole | server.ExtentZero
	want := []server.Extent{{Offset: 0, Length: 64 << 10, Type: hole},
		{Offset: 64 << 10, Length: 64 << 10, Type: server.ExtentData},
		{Offset: 128 << 10, Length: 1<<20 - 128<<10, Type: hole}}
	if got := e.Extents(); !slices.Equal(got, want) {
		t.Errorf("extents with a dirty block\n got %v\nwant %v", got, want)
	}
}

func TestTrim(t *testing.T) {
	ctx := context.Background()
	d, _ := randomDisk(1<<20, 8)
	f := newFilter(t, d, Options{})
	h := open(t, f)
	if err := h.WriteAt(ctx, make([]byte, 256<<10), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Trim(ctx, 1000, 200<<10, 0); err != nil {
		t.Fatal(err)
	}
	if d.Counts().Trims.Load() != 1 {
		t.Error("the trim did not reach the plugin")
	}
	// Blocks 1 and 2 were covered whole and dropped; 0 and 3 stay cached.
	if cached, dirty := f.store.counts(); cached != 2 || dirty != 2 {
		t.Errorf("after the trim %d blocks cached, %d dirty; want 2 and 2", cached, dirty)
	}
}

// TestConcurrent has goroutines write interleaved small pieces of the same blocks and
// read at once, with flushes, in each mode: every piece must land, in the cache and
// after a flush in the plugin.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	const size, writers, piece = 512 << 10, 8, 1000
	for _, mode := range []Mode{Writeback, Writethrough} {
		t.Run(mode.String(), func(t *testing.T) {
			d, original := randomDisk(size, 12)
			f := newFilter(t, d, Options{Mode: mode, MinBlockSize: 4096, MaxSize: 256 << 10, OnRead: Trigger{On: true}})
			model := slices.Clone(original)
			var wg sync.WaitGroup
			for w := range writers {
				h := open(t, f)
				p := bytes.Repeat([]byte{byte(w + 1)}, piece)
				for off := int64(w * piece); off+piece <= size; off += writers * piece {
					copy(model[off:], p)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for off := int64(w * piece); off+piece <= size; off += writers * piece {
						if err := h.WriteAt(ctx, p, off, 0); err != nil {
							t.Error(err)
							return
						}
						if off%(50*piece) == 0 {
							if err := h.Flush(ctx, 0); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			for range 2 {
				h := open(t, f)
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 9000)
					for off := int64(0); off+int64(len(buf)) <= size; off += 7000 {
						if err := h.ReadAt(ctx, buf, off, 0); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			h := open(t, f)
			if !bytes.Equal(read(t, h, 0, size), model) {
				t.Error("some concurrent writes were lost in the cache")
			}
			if err := h.Flush(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Bytes(), model) {
				t.Error("some concurrent writes did not reach the plugin")
			}
		})
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ params, want string }{
		{"cache=sometimes", "cache=sometimes"},
		{"cache-min-block-size=1000", "power of 2"},
		{"cache-max-size=lots", "cache-max-size=lots"},
		{"cache-max-size=1M cache-high-threshold=50 cache-low-threshold=60", "0 < low < high"},
		{"cache-low-threshold=0", "cache-low-threshold=0"},
		{"cache-max-size=64k", "one block"},
		{"cache-on-read=relative", "absolute path"},
	} {
		d := servertest.NewDisk(4096)
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, strings.Fields(tc.params)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.params, err, tc.want)
		}
	}
}
