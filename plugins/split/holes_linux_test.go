package split

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gonbd/gonbd/server"
)

// holesOf returns the holes of a file as lseek reports them, independently of the
// plugin: [start, end) pairs.
func holesOf(t testing.TB, path string) [][2]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := info.Size()
	var holes [][2]int64
	for off := int64(0); off < size; {
		hole, err := unix.Seek(int(f.Fd()), off, unix.SEEK_HOLE)
		if err != nil || hole >= size {
			break
		}
		data, err := unix.Seek(int(f.Fd()), hole, unix.SEEK_DATA)
		if err == unix.ENXIO {
			data = size
		} else if err != nil {
			t.Fatal(err)
		}
		holes = append(holes, [2]int64{hole, data})
		off = data
	}
	return holes
}

// allocatedBytes returns how much of the file's space the file system has allocated.
func allocatedBytes(t testing.TB, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// Three files of 100 KiB + 7, 1 MiB + 100 and 300 KiB: their blocks start at
// different offsets of the export.
var holeSizes = []int{100<<10 + 7, 1<<20 + 100, 300 << 10}

func TestTrimAndZeroAcrossFiles(t *testing.T) {
	paths, all := testFiles(t, holeSizes...)
	h := openLayer(t, paths, false)
	ctx := context.Background()
	start1, start2 := int64(holeSizes[0]), int64(holeSizes[0]+holeSizes[1])

	// Trim from 36 KiB into the first file to 64 KiB into the third.
	trimFrom, trimTo := int64(36<<10), start2+64<<10
	if err := h.Trim(ctx, trimFrom, trimTo-trimFrom, server.FlagFUA); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	clear(all[trimFrom:trimTo])
	if got := concatenation(t, paths); !bytes.Equal(got, all) {
		t.Fatal("after the trim, the files do not read as zeroes exactly where trimmed")
	}
	// Each file has the blocks inside the range punched.
	if holes := holesOf(t, paths[0]); !slices.Equal(holes, [][2]int64{{36 << 10, 100 << 10}}) {
		t.Errorf("holes of the first file: %v", holes)
	}
	if holes := holesOf(t, paths[1]); !slices.Equal(holes, [][2]int64{{0, 1 << 20}}) {
		t.Errorf("holes of the second file: %v (its last 100 bytes share a block with nothing to punch)", holes)
	}
	if holes := holesOf(t, paths[2]); !slices.Equal(holes, [][2]int64{{0, 64 << 10}}) {
		t.Errorf("holes of the third file: %v", holes)
	}

	// Zero across the second boundary without trimming, and fast.
	allocated := allocatedBytes(t, paths[2])
	zeroFrom, zeroTo := start2-5000, start2+200<<10
	if err := h.Zero(ctx, zeroFrom, zeroTo-zeroFrom, server.FlagFastZero); err != nil {
		t.Fatalf("fast Zero: %v", err)
	}
	clear(all[zeroFrom:zeroTo])
	// Zero across the first boundary, may trim.
	if err := h.Zero(ctx, start1-3, 10, server.FlagMayTrim); err != nil {
		t.Fatalf("Zero: %v", err)
	}
	clear(all[start1-3 : start1+7])
	if got := concatenation(t, paths); !bytes.Equal(got, all) {
		t.Error("after the zeroes, the files do not read as zeroes exactly where zeroed")
	}
	if after := allocatedBytes(t, paths[2]); after < allocated {
		t.Errorf("a zero without trimming freed space in the third file: %d bytes allocated before, %d after", allocated, after)
	}
}

func TestExtentsAcrossFiles(t *testing.T) {
	paths, _ := testFiles(t, holeSizes...)
	start1, start2 := int64(holeSizes[0]), int64(holeSizes[0]+holeSizes[1])
	for i, r := range [][2]int64{{32 << 10, 64 << 10}, {0, 1 << 20}, {256 << 10, 300 << 10}} {
		f, err := os.OpenFile(paths[i], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, r[0], r[1]-r[0]); err != nil {
			t.Skipf("the file system cannot punch holes: %v", err)
		}
		f.Close()
	}
	h := openLayer(t, paths, false)
	hz := server.ExtentHole | server.ExtentZero
	size := start2 + 300<<10
	e := server.NewExtentList(0, size)
	if err := h.Extents(context.Background(), 0, size, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 0, Length: 32 << 10, Type: server.ExtentData},
		{Offset: 32 << 10, Length: 32 << 10, Type: hz},
		{Offset: 64 << 10, Length: start1 - 64<<10, Type: server.ExtentData}, // up to the first file's end
		{Offset: start1, Length: 1 << 20, Type: hz},                          // the second file's start
		{Offset: start1 + 1<<20, Length: 100 + 256<<10, Type: server.ExtentData},
		{Offset: start2 + 256<<10, Length: 44 << 10, Type: hz},
	}
	if got := e.Extents(); !slices.Equal(got, want) {
		t.Errorf("extents:\n got %v\nwant %v", got, want)
	}

	e = server.NewExtentList(start1-10, size)
	if err := h.Extents(context.Background(), start1-10, 1000, server.FlagReqOne, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); !slices.Equal(got, []server.Extent{{Offset: start1 - 10, Length: 10, Type: server.ExtentData}}) {
		t.Errorf("extents with REQ_ONE: %v", got)
	}
}
