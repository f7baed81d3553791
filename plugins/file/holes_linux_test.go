package file

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// holesOf returns the holes of a file as lseek reports them, independently of the
// plugin: [start, end) pairs, the implicit hole at the end of the file excluded.
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

func TestTrimPunchesHoles(t *testing.T) {
	contents := randomBytes(t, 1<<20)
	path := writeTestFile(t, contents)
	_, h := openFile(t, Options{File: path})
	before := allocatedBytes(t, path)

	if err := h.Trim(context.Background(), 256<<10, 512<<10, server.FlagFUA); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	if holes := holesOf(t, path); !slices.Equal(holes, [][2]int64{{256 << 10, 768 << 10}}) {
		t.Errorf("holes after trimming [256K, 768K): %v", holes)
	}
	if after := allocatedBytes(t, path); after > before-512<<10 {
		t.Errorf("allocated %d bytes before the trim and %d after: the hole freed nothing", before, after)
	}
	clear(contents[256<<10 : 768<<10])
	if !bytes.Equal(readFile(t, path), contents) {
		t.Error("the file does not read as zeroes where it was trimmed, or changed elsewhere")
	}
}

func TestZero(t *testing.T) {
	tests := []struct {
		name   string
		off, n int64
		flags  server.Flags
		// wantHoles are the holes when the client allows trimming (whole blocks of
		// the range are punched, the file system zeroes the rest); nil means the
		// range must stay allocated.
		wantHoles [][2]int64
	}{
		{"may trim", 64 << 10, 128 << 10, server.FlagMayTrim, [][2]int64{{64 << 10, 192 << 10}}},
		{"no trim", 64 << 10, 128 << 10, 0, nil},
		{"fast", 64 << 10, 128 << 10, server.FlagFastZero, nil},
		{"fast may trim FUA", 0, 1 << 20, server.FlagFastZero | server.FlagMayTrim | server.FlagFUA, [][2]int64{{0, 1 << 20}}},
		{"unaligned", 1000, 5000, 0, nil},
		{"unaligned may trim", 1000, 9000, server.FlagMayTrim, [][2]int64{{4096, 8192}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contents := randomBytes(t, 1<<20)
			path := writeTestFile(t, contents)
			_, h := openFile(t, Options{File: path})
			allocated := allocatedBytes(t, path)
			if err := h.Zero(context.Background(), tt.off, tt.n, tt.flags); err != nil {
				t.Fatalf("Zero: %v", err)
			}
			clear(contents[tt.off : tt.off+tt.n])
			if !bytes.Equal(readFile(t, path), contents) {
				t.Error("the range does not read as zeroes, or the rest changed")
			}
			if tt.wantHoles == nil {
				// Whether SEEK_HOLE reports zeroed (unwritten) extents as holes
				// differs between file systems; the space they hold does not.
				if after := allocatedBytes(t, path); after < allocated {
					t.Errorf("a zero without trimming freed space: %d bytes allocated before, %d after", allocated, after)
				}
			} else if holes := holesOf(t, path); !slices.Equal(holes, tt.wantHoles) {
				t.Errorf("holes: got %v, want %v", holes, tt.wantHoles)
			}
		})
	}
}

// TestZeroFallsBackToWriting uses a file on a file system without fallocate
// (procfs): zero requests are left to the server to write, fast ones fail with
// ENOTSUP, and trims are ignored, as in nbdkit.
func TestZeroFallsBackToWriting(t *testing.T) {
	p := newTestPlugin(t, Options{File: "/proc/self/comm"})
	h, err := p.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fh := h.(*handle)
	defer fh.Close()
	err = fh.Zero(context.Background(), 0, 1, server.FlagFastZero)
	if server.ErrnoOf(err) != protocol.ENOTSUP {
		t.Errorf("a fast zero where fallocate is unsupported: %v, want ENOTSUP", err)
	}
	if !fh.noZeroRange.Load() || !fh.noPunchHole.Load() {
		t.Error("the handle did not learn that fallocate is unsupported")
	}
	if err := fh.Trim(context.Background(), 0, 1, 0); err != nil {
		t.Errorf("a trim that cannot punch holes is ignored, as in nbdkit; got %v", err)
	}
}

func TestExtentsFollowHoles(t *testing.T) {
	const size = 1 << 20
	path := sparseTestFile(t, size)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Data at [64K, 128K) and [512K, 516K), and in the last block.
	for _, w := range []struct{ off, n int64 }{{64 << 10, 64 << 10}, {512 << 10, 4 << 10}, {size - 4096, 4096}} {
		if _, err := f.WriteAt(bytes.Repeat([]byte{1}, int(w.n)), w.off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	holes := holesOf(t, path)
	if len(holes) != 3 {
		t.Skipf("the file system did not keep the file sparse: holes %v", holes)
	}

	_, h := openFile(t, Options{File: path})
	hz := server.ExtentHole | server.ExtentZero
	want := []server.Extent{
		{Offset: 0, Length: 64 << 10, Type: hz},
		{Offset: 64 << 10, Length: 64 << 10, Type: server.ExtentData},
		{Offset: 128 << 10, Length: 384 << 10, Type: hz},
		{Offset: 512 << 10, Length: 4 << 10, Type: server.ExtentData},
		{Offset: 516 << 10, Length: size - 4096 - 516<<10, Type: hz},
		{Offset: size - 4096, Length: 4096, Type: server.ExtentData},
	}
	if got := extentsOf(t, h, 0, size, 0); !slices.Equal(got, want) {
		t.Errorf("extents of the whole file:\n got %v\nwant %v", got, want)
	}
	// A range starting inside data and ending inside a hole.
	wantPart := []server.Extent{
		{Offset: 100 << 10, Length: 28 << 10, Type: server.ExtentData},
		{Offset: 128 << 10, Length: 72 << 10, Type: hz},
	}
	if got := extentsOf(t, h, 100<<10, 100<<10, 0); !slices.Equal(got, wantPart) {
		t.Errorf("extents of [100K, 200K):\n got %v\nwant %v", got, wantPart)
	}
	if got := extentsOf(t, h, 0, size, server.FlagReqOne); !slices.Equal(got, want[:1]) {
		t.Errorf("extents with REQ_ONE: got %v, want %v", got, want[:1])
	}
	if got := extentsOf(t, h, 520<<10, 8<<10, server.FlagReqOne); !slices.Equal(got, []server.Extent{{Offset: 520 << 10, Length: 8 << 10, Type: hz}}) {
		t.Errorf("extents with REQ_ONE inside a hole: got %v", got)
	}

	// Trimming makes a hole that the extents then report.
	if err := h.Trim(context.Background(), 64<<10, 64<<10, 0); err != nil {
		t.Fatal(err)
	}
	want = []server.Extent{{Offset: 0, Length: 512 << 10, Type: hz}, {Offset: 512 << 10, Length: 4 << 10, Type: server.ExtentData}}
	if got := extentsOf(t, h, 0, 516<<10, 0); !slices.Equal(got, want) {
		t.Errorf("extents after the trim:\n got %v\nwant %v", got, want)
	}
}

func TestDumpPlugin(t *testing.T) {
	p := newTestPlugin(t, Options{File: writeTestFile(t, nil)})
	var b bytes.Buffer
	p.DumpPlugin(&b)
	for _, key := range []string{"file_blkzeroout=yes", "file_falloc_fl_punch_hole=yes", "file_falloc_fl_zero_range=yes"} {
		if !bytes.Contains(b.Bytes(), []byte(key+"\n")) {
			t.Errorf("--dump-plugin lacks %s:\n%s", key, &b)
		}
	}
}
