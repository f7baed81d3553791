package memory

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// fullHandle is every optional interface the memory handle implements, so that tests
// call them without a type assertion each.
type fullHandle interface {
	server.Handle
	server.Writer
	server.Flusher
	server.Trimmer
	server.Zeroer
	server.Extenter
	server.Cacher
	server.CapabilityOverrider
}

func newTestPlugin(t testing.TB, opts Options) *Plugin {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	return p
}

func openTestHandle(t testing.TB, p *Plugin) fullHandle {
	t.Helper()
	h, err := p.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return h.(fullHandle)
}

// forEachAllocator runs test once per allocator.
func forEachAllocator(t *testing.T, test func(t *testing.T, allocator string)) {
	for _, allocator := range []string{allocatorSparse, allocatorMalloc, allocatorZstd} {
		t.Run(allocator, func(t *testing.T) { test(t, allocator) })
	}
}

// forEachSparseAllocator runs test once per allocator that keeps pages only where
// there is data: sparse and zstd.
func forEachSparseAllocator(t *testing.T, test func(t *testing.T, allocator string)) {
	for _, allocator := range []string{allocatorSparse, allocatorZstd} {
		t.Run(allocator, func(t *testing.T) { test(t, allocator) })
	}
}

func mustRead(t testing.TB, h fullHandle, off int64, n int) []byte {
	t.Helper()
	p := bytes.Repeat([]byte{0xAA}, n) // garbage, so that unwritten zeroes are checked
	if err := h.ReadAt(context.Background(), p, off); err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
	}
	return p
}

func mustWrite(t testing.TB, h fullHandle, p []byte, off int64) {
	t.Helper()
	if err := h.WriteAt(context.Background(), p, off, 0); err != nil {
		t.Fatalf("WriteAt(%d, %d): %v", off, len(p), err)
	}
}

// TestReadBackMatchesModel writes, zeroes and trims random ranges, many of them
// unaligned and crossing page boundaries, and checks every read against a plain slice
// that had the same done to it.
func TestReadBackMatchesModel(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		const size = 5*pageSize + 1234 // not a whole number of pages
		h := openTestHandle(t, newTestPlugin(t, Options{Size: size, Allocator: allocator}))
		ctx := context.Background()
		model := make([]byte, size)
		rng := rand.New(rand.NewPCG(1, 2))
		for step := range 2000 {
			off := rng.Int64N(size)
			n := 1 + rng.Int64N(min(size-off, 3*pageSize))
			switch step % 5 {
			case 0, 1, 2:
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(rng.UintN(255) + 1)
				}
				mustWrite(t, h, data, off)
				copy(model[off:], data)
			case 3:
				if err := h.Zero(ctx, off, n, 0); err != nil {
					t.Fatal(err)
				}
				clear(model[off : off+n])
			case 4:
				if err := h.Trim(ctx, off, n, 0); err != nil {
					t.Fatal(err)
				}
				clear(model[off : off+n])
			}
			readOff := rng.Int64N(size)
			readLen := int(1 + rng.Int64N(min(size-readOff, 3*pageSize)))
			if got := mustRead(t, h, readOff, readLen); !bytes.Equal(got, model[readOff:readOff+int64(readLen)]) {
				t.Fatalf("step %d: read at %d of %d bytes differs from what was written", step, readOff, readLen)
			}
		}
		if got := mustRead(t, h, 0, size); !bytes.Equal(got, model) {
			t.Fatal("the whole disk differs from what was written")
		}
	})
}

func TestNewDiskReadsAsZeroes(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		h := openTestHandle(t, newTestPlugin(t, Options{Size: 3 * pageSize, Allocator: allocator}))
		if got := mustRead(t, h, 100, 2*pageSize); !allZero(got) {
			t.Fatal("a fresh disk does not read as zeroes")
		}
	})
}

func TestHandlesShareTheDisk(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		p := newTestPlugin(t, Options{Size: 1 << 20, Allocator: allocator})
		writer, reader := openTestHandle(t, p), openTestHandle(t, p)
		mustWrite(t, writer, []byte("shared"), 4000)
		if got := mustRead(t, reader, 4000, 6); string(got) != "shared" {
			t.Fatalf("second connection reads %q, want %q", got, "shared")
		}
	})
}

func TestSparsePagesAreAllocatedOnWriteAndFreedByTrimAndZero(t *testing.T) {
	forEachSparseAllocator(t, testPagesAreAllocatedOnWriteAndFreedByTrimAndZero)
}

func testPagesAreAllocatedOnWriteAndFreedByTrimAndZero(t *testing.T, allocator string) {
	ctx := context.Background()
	p := newTestPlugin(t, Options{Size: 10 * pageSize, Allocator: allocator})
	h := openTestHandle(t, p)
	pages := func() int64 { return p.allocatedBytes() / pageSize }

	mustWrite(t, h, make([]byte, 3*pageSize), 0)
	if got := pages(); got != 0 {
		t.Fatalf("writing zeroes allocated %d pages, want 0", got)
	}
	// Three bytes straddling two page boundaries touch three pages.
	mustWrite(t, h, []byte{1, 2, 3}, 2*pageSize-1)
	mustWrite(t, h, []byte{4}, 3*pageSize+pageSize-1)
	if got := pages(); got != 3 {
		t.Fatalf("after writes to pages 1, 2 and 3: %d pages allocated, want 3", got)
	}

	// Zeroing part of a page that still holds data keeps it.
	if err := h.Zero(ctx, 2*pageSize, 1, 0); err != nil {
		t.Fatal(err)
	}
	if got := pages(); got != 3 {
		t.Fatalf("after zeroing part of page 2: %d pages, want 3", got)
	}
	// Zeroing the last non-zero byte of a page frees it.
	if err := h.Zero(ctx, 2*pageSize+1, 1, 0); err != nil {
		t.Fatal(err)
	}
	if got := pages(); got != 2 {
		t.Fatalf("after zeroing what was left in page 2: %d pages, want 2", got)
	}
	// Trimming whole pages frees them.
	if err := h.Trim(ctx, pageSize, 3*pageSize, 0); err != nil {
		t.Fatal(err)
	}
	if got := pages(); got != 0 {
		t.Fatalf("after trimming pages 1 to 3: %d pages, want 0", got)
	}
	if got := mustRead(t, h, 0, 10*pageSize); !allZero(got) {
		t.Fatal("the disk does not read as zeroes after everything was zeroed")
	}
}

// extentsOf returns the extents a handle reports for [off, off+length).
func extentsOf(t *testing.T, h fullHandle, off, length int64, flags server.Flags) []server.Extent {
	t.Helper()
	e := server.NewExtentList(off, off+length)
	if err := h.Extents(context.Background(), off, length, flags, e); err != nil {
		t.Fatalf("Extents(%d, %d): %v", off, length, err)
	}
	return slices.Clone(e.Extents())
}

const hole = server.ExtentHole | server.ExtentZero

func TestSparseExtents(t *testing.T) {
	forEachSparseAllocator(t, testSparseExtents)
}

func testSparseExtents(t *testing.T, allocator string) {
	const size = 8*pageSize - 100
	h := openTestHandle(t, newTestPlugin(t, Options{Size: size, Allocator: allocator}))
	// Pages 1, 2 and 5 hold data; page 7, the last, is partial.
	mustWrite(t, h, []byte{1}, pageSize)
	mustWrite(t, h, []byte{1}, 3*pageSize-1)
	mustWrite(t, h, []byte{1}, 5*pageSize+7)

	tests := []struct {
		name        string
		off, length int64
		flags       server.Flags
		want        []server.Extent
	}{{
		name: "whole disk", off: 0, length: size,
		want: []server.Extent{
			{Offset: 0, Length: pageSize, Type: hole},
			{Offset: pageSize, Length: 2 * pageSize, Type: server.ExtentData},
			{Offset: 3 * pageSize, Length: 2 * pageSize, Type: hole},
			{Offset: 5 * pageSize, Length: pageSize, Type: server.ExtentData},
			{Offset: 6 * pageSize, Length: size - 6*pageSize, Type: hole},
		},
	}, {
		name: "unaligned, inside data then hole", off: pageSize + 10, length: 2*pageSize + 20,
		want: []server.Extent{
			{Offset: pageSize + 10, Length: 2*pageSize - 10, Type: server.ExtentData},
			{Offset: 3 * pageSize, Length: 30, Type: hole},
		},
	}, {
		name: "req one stops at the first change", off: 10, length: size - 10, flags: server.FlagReqOne,
		want: []server.Extent{
			{Offset: 10, Length: pageSize - 10, Type: hole},
		},
	}, {
		name: "inside the last partial page", off: size - 50, length: 50,
		want: []server.Extent{
			{Offset: size - 50, Length: 50, Type: hole},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := extentsOf(t, h, tt.off, tt.length, tt.flags); !slices.Equal(got, tt.want) {
				t.Errorf("extents:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestMallocExtentsAreAllData(t *testing.T) {
	h := openTestHandle(t, newTestPlugin(t, Options{Size: 1 << 20, Allocator: "malloc"}))
	want := []server.Extent{{Offset: 100, Length: 5000, Type: server.ExtentData}}
	if got := extentsOf(t, h, 100, 5000, 0); !slices.Equal(got, want) {
		t.Errorf("extents: got %v, want %v", got, want)
	}
}

// TestHugeSparseDisks checks that disks far beyond RAM work, down to the last byte: the
// sizes qemu-img and nbdkit's own tests use.
func TestHugeSparseDisks(t *testing.T) {
	forEachSparseAllocator(t, testHugeSparseDisks)
}

func testHugeSparseDisks(t *testing.T, allocator string) {
	for _, size := range []int64{1<<60 - 1, math.MaxInt64} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ctx := context.Background()
			p := newTestPlugin(t, Options{Size: size, Allocator: allocator})
			h := openTestHandle(t, p)
			if got, err := h.Size(ctx); err != nil || got != size {
				t.Fatalf("Size() = %d, %v; want %d", got, err, size)
			}
			mustWrite(t, h, []byte("first"), 0)
			mustWrite(t, h, []byte("last"), size-4)
			if got := mustRead(t, h, 0, 5); string(got) != "first" {
				t.Errorf("read at 0: %q", got)
			}
			if got := mustRead(t, h, size-4, 4); string(got) != "last" {
				t.Errorf("read at the end: %q", got)
			}
			if got := mustRead(t, h, size/2, 4096); !allZero(got) {
				t.Error("the middle of the disk does not read as zeroes")
			}
			if got := p.allocatedBytes(); got != 2*pageSize {
				t.Errorf("%d bytes allocated, want two pages", got)
			}

			lastPage := (size - 1) &^ pageMask
			wantTail := []server.Extent{
				{Offset: size - 2*pageSize, Length: lastPage - (size - 2*pageSize), Type: hole},
				{Offset: lastPage, Length: size - lastPage, Type: server.ExtentData},
			}
			if got := extentsOf(t, h, size-2*pageSize, 2*pageSize, 0); !slices.Equal(got, wantTail) {
				t.Errorf("extents at the end:\n got %v\nwant %v", got, wantTail)
			}
			// An extents request spanning the whole disk must skip the empty
			// subtrees instead of visiting 2⁴⁸ pages.
			wantAll := []server.Extent{
				{Offset: 0, Length: pageSize, Type: server.ExtentData},
				{Offset: pageSize, Length: lastPage - pageSize, Type: hole},
				{Offset: lastPage, Length: size - lastPage, Type: server.ExtentData},
			}
			if got := extentsOf(t, h, 0, size, 0); !slices.Equal(got, wantAll) {
				t.Errorf("extents of the whole disk:\n got %v\nwant %v", got, wantAll)
			}

			if err := h.Zero(ctx, 0, size, 0); err != nil {
				t.Fatal(err)
			}
			if got := p.allocatedBytes(); got != 0 {
				t.Errorf("%d bytes allocated after zeroing the whole disk, want 0", got)
			}
		})
	}
}

func TestZeroLengthDisk(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		h := openTestHandle(t, newTestPlugin(t, Options{Allocator: allocator}))
		if got, err := h.Size(context.Background()); err != nil || got != 0 {
			t.Fatalf("Size() = %d, %v; want 0", got, err)
		}
	})
}

// TestConcurrentAccess runs writers, readers, zeroes and trims at once, each goroutine on
// a region of its own and all of them on one shared page, for the race detector to
// watch. Every write to the shared page fills one 4 KiB block with one byte value, so
// a read of a block that sees two values has caught a torn write.
func TestConcurrentAccess(t *testing.T) {
	forEachAllocator(t, func(t *testing.T, allocator string) {
		const (
			workers    = 8
			regionSize = 3 * pageSize // regions cross page boundaries at odd places
			sharedOff  = workers * regionSize
			block      = 4096
			rounds     = 200
		)
		ctx := context.Background()
		h := openTestHandle(t, newTestPlugin(t, Options{Size: sharedOff + pageSize, Allocator: allocator}))
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 0))
				own := int64(w) * regionSize
				data := make([]byte, 5000)
				got := make([]byte, 5000)
				blockData := make([]byte, block)
				for round := range rounds {
					// Own region: what is written reads back.
					off := own + rng.Int64N(regionSize-int64(len(data)))
					for i := range data {
						data[i] = byte(w + round + i)
					}
					_ = h.WriteAt(ctx, data, off, 0)
					_ = h.ReadAt(ctx, got, off)
					if !bytes.Equal(got, data) {
						errs <- fmt.Errorf("worker %d round %d: own region does not read back", w, round)
						return
					}
					_ = h.Trim(ctx, off, int64(len(data))/2, 0)
					_ = h.Zero(ctx, off, int64(len(data)), 0)

					// Shared page: blocks are never torn.
					b := sharedOff + rng.Int64N(pageSize/block)*block
					switch round % 3 {
					case 0:
						for i := range blockData {
							blockData[i] = byte(w + 1)
						}
						_ = h.WriteAt(ctx, blockData, b, 0)
					case 1:
						_ = h.Zero(ctx, b, block, 0)
					case 2:
						_ = h.ReadAt(ctx, blockData, b)
						if bytes.Count(blockData, blockData[:1]) != block {
							errs <- fmt.Errorf("worker %d: torn block at %d", w, b)
							return
						}
					}
					e := server.NewExtentList(sharedOff, sharedOff+pageSize)
					_ = h.Extents(ctx, sharedOff, pageSize, 0, e)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestCapabilitiesMatchNbdkit(t *testing.T) {
	h := openTestHandle(t, newTestPlugin(t, Options{Size: 1 << 20}))
	c := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, Extents: true, FUA: server.FUAEmulate, Cache: server.CacheNone}
	if err := h.Capabilities(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true, Extents: true,
		FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if c != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", c, want)
	}

	readOnly := server.Capabilities{Flush: true, Extents: true, FUA: server.FUANone}
	if err := h.Capabilities(context.Background(), &readOnly); err != nil {
		t.Fatal(err)
	}
	if readOnly.Write || readOnly.Zero || readOnly.FastZero || readOnly.FUA != server.FUANone {
		t.Errorf("a read-only connection was given write capabilities: %+v", readOnly)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		opts Options
		want string // in the error
	}{
		{Options{Size: -1}, "negative"},
		{Options{Size: 1, Allocator: "bogus"}, `unknown allocator "bogus": the allocators are sparse, malloc and zstd`},
		{Options{Size: 1, Mlock: true}, "mlock=true needs allocator=malloc"},
		{Options{Size: 1, Allocator: "sparse", Mlock: true}, "mlock=true needs allocator=malloc"},
		{Options{Size: 1 << 60, Allocator: "malloc"}, "allocator=malloc: "},
	}
	for _, tt := range tests {
		p, err := New(tt.opts)
		if err == nil {
			p.Cleanup(context.Background())
			t.Errorf("New(%+v) succeeded, want an error containing %q", tt.opts, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %q, want it to contain %q", tt.opts, err, tt.want)
		}
	}
}

func TestMallocMlock(t *testing.T) {
	p, err := New(Options{Size: 64 << 10, Allocator: "malloc", Mlock: true})
	if !canLockMemory {
		if err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Fatalf("New with mlock on a platform without it: %v, want a 'not supported' error", err)
		}
		return
	}
	if err != nil {
		// A low RLIMIT_MEMLOCK is a fact of the machine, not a bug; the error must
		// say what to do about it.
		if !strings.Contains(err.Error(), "ulimit -l") {
			t.Fatalf("mlock failed without pointing at the limit: %v", err)
		}
		t.Skipf("mlock refused here: %v", err)
	}
	defer p.Cleanup(context.Background())
	h := openTestHandle(t, p)
	mustWrite(t, h, []byte("locked"), 1000)
	if got := mustRead(t, h, 1000, 6); string(got) != "locked" {
		t.Errorf("read back %q", got)
	}
}

func TestDumpPlugin(t *testing.T) {
	var b strings.Builder
	newTestPlugin(t, Options{}).DumpPlugin(&b)
	want := fmt.Sprintf("mlock=%s\nzstd=yes\n", yesNo(canLockMemory))
	if b.String() != want {
		t.Errorf("DumpPlugin wrote %q, want %q", b.String(), want)
	}
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
