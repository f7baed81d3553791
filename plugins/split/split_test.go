package split

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// oddSizes are the sizes of the test's files: none a multiple of anything, one
// empty, one a single byte.
var oddSizes = []int{100003, 0, 1, 1<<20 + 777, 4095}

// testFiles makes files of random contents with the given sizes and returns their
// paths and their concatenation.
func testFiles(t testing.TB, sizes ...int) (paths []string, all []byte) {
	t.Helper()
	dir := t.TempDir()
	for i, size := range sizes {
		b := make([]byte, size)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "part"+string(rune('a'+i)))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		all = append(all, b...)
	}
	return paths, all
}

// openLayer opens the export the way the server does, adapted by server.PluginLayer,
// which enforces the capabilities the handle claims.
func openLayer(t testing.TB, paths []string, readOnly bool) server.LayerHandle {
	t.Helper()
	p, err := New(Options{Files: paths})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.PluginLayer("split", p).Open(ctx, server.OpenRequest{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, readOnly); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// concatenation returns what the files hold now, one after the other.
func concatenation(t testing.TB, paths []string) []byte {
	t.Helper()
	var all []byte
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestRead(t *testing.T) {
	paths, all := testFiles(t, oddSizes...)
	h := openLayer(t, paths, false)
	ctx := context.Background()
	if size, _ := h.Size(ctx); size != int64(len(all)) {
		t.Fatalf("size %d, want %d", size, len(all))
	}
	got := make([]byte, len(all))
	if err := h.ReadAt(ctx, got, 0, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Error("reading the whole export differs from the files' concatenation")
	}
	// Every boundary, crossed from a few bytes before to a few after.
	for _, r := range []struct{ off, n int }{{100000, 10}, {100003, 1}, {100002, 3}, {100004, 5}, {1149357 - 2500, 5000}, {0, 100005}} {
		p := make([]byte, r.n)
		if err := h.ReadAt(ctx, p, int64(r.off), 0); err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", r.off, r.n, err)
		}
		if !bytes.Equal(p, all[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d, %d) differs", r.off, r.n)
		}
	}
}

func TestWriteAcrossBoundaries(t *testing.T) {
	paths, all := testFiles(t, oddSizes...)
	h := openLayer(t, paths, false)
	ctx := context.Background()
	writes := []struct {
		off, n int
		flags  server.Flags
	}{
		{100000, 4, 0},                        // the last 3 bytes of a, the byte of c
		{99000, 1<<20 + 3000, server.FlagFUA}, // a, c, d and into e
		{len(all) - 1, 1, 0},                  // the last byte
		{0, len(all), 0},                      // everything
	}
	for _, w := range writes {
		p := make([]byte, w.n)
		rand.Read(p)
		if err := h.WriteAt(ctx, p, int64(w.off), w.flags); err != nil {
			t.Fatalf("WriteAt(%d, %d): %v", w.off, w.n, err)
		}
		copy(all[w.off:], p)
		if got := concatenation(t, paths); !bytes.Equal(got, all) {
			t.Fatalf("after writing %d bytes at %d the files do not hold what was written", w.n, w.off)
		}
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for i, path := range paths {
		info, err := os.Stat(path)
		if err != nil || info.Size() != int64(oddSizes[i]) {
			t.Errorf("%s: size changed to %d (%v), want %d", path, info.Size(), err, oddSizes[i])
		}
	}
}

func TestCapabilities(t *testing.T) {
	paths, _ := testFiles(t, 1000, 2000)
	ctx := context.Background()
	caps, err := openLayer(t, paths, false).Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Write: true, Flush: true, Trim: haveFallocate, Zero: true, FastZero: haveFallocate,
		Extents: haveSeekHole, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if !haveFadvise {
		want.Cache = server.CacheEmulate
	}
	if caps != want {
		t.Errorf("capabilities:\n got %+v\nwant %+v", caps, want)
	}

	ro := openLayer(t, paths, true)
	caps, _ = ro.Capabilities(ctx)
	if caps.Write || caps.Trim || caps.Zero {
		t.Errorf("a read-only connection may write: %+v", caps)
	}
	if err := ro.WriteAt(ctx, []byte{1}, 0, 0); server.ErrnoOf(err) != protocol.EPERM {
		t.Errorf("a write on a read-only connection: %v, want EPERM", err)
	}
	if err := ro.Cache(ctx, 0, 3000, 0); err != nil {
		t.Errorf("Cache: %v", err)
	}
}

// TestOneFileReadOnly checks that the export is read-only when one of the files
// cannot be written. Root writes whatever the mode says, so it cannot take this test.
func TestOneFileReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write a file of mode 0444")
	}
	paths, _ := testFiles(t, 1000, 2000)
	if err := os.Chmod(paths[1], 0o444); err != nil {
		t.Fatal(err)
	}
	caps, _ := openLayer(t, paths, false).Capabilities(context.Background())
	if caps.Write {
		t.Error("the export is writable although one file is not")
	}
}

func TestFileShrunk(t *testing.T) {
	paths, _ := testFiles(t, 5000, 5000)
	h := openLayer(t, paths, false)
	if err := os.Truncate(paths[0], 100); err != nil {
		t.Fatal(err)
	}
	err := h.ReadAt(context.Background(), make([]byte, 1000), 4000, 0)
	if server.ErrnoOf(err) != protocol.EIO {
		t.Errorf("reading where a file was truncated: %v, want EIO", err)
	}
}

func TestBadParameters(t *testing.T) {
	paths, _ := testFiles(t, 10)
	dir := t.TempDir()
	tests := []struct {
		params []string
		want   []string
	}{
		{nil, []string{"missing parameter", "file="}},
		{[]string{"file="}, []string{"file= is empty"}},
		{[]string{"file=" + paths[0], "file=/nonexistent"}, []string{"file=/nonexistent", "no such file or directory"}},
		{[]string{"file=" + dir}, []string{"file=" + dir, "is a directory"}},
		{[]string{"file=" + paths[0], "size=1M"}, []string{"unknown parameter size"}},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			params []string
			want   []string
		}{[]string{"file=/dev/null"}, []string{"file=/dev/null", "not a regular file"}})
	}
	for _, tt := range tests {
		_, err := servertest.Stack(Spec(), nil, tt.params...)
		if err == nil {
			t.Errorf("%v: accepted, want an error", tt.params)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error %q does not mention %q", tt.params, err, want)
			}
		}
	}
}

// TestMagicKey checks that bare paths are files, in order.
func TestMagicKey(t *testing.T) {
	paths, all := testFiles(t, 3, 4)
	layer, err := servertest.Stack(Spec(), nil, paths[1], paths[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 7)
	if err := h.ReadAt(ctx, got, 0, 0); err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(all[3:]), all[:3]...); !bytes.Equal(got, want) {
		t.Errorf("read %x, want %x (the files in command-line order)", got, want)
	}
}

// TestHotPathDoesNotAllocate checks that reads and writes, across files too,
// allocate nothing.
func TestHotPathDoesNotAllocate(t *testing.T) {
	paths, _ := testFiles(t, 5000, 5000)
	p, err := New(Options{Files: paths})
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.(*handle).Close()
	fh := h.(*handle)
	ctx := context.Background()
	buf := make([]byte, 2000)
	if n := testing.AllocsPerRun(50, func() { _ = fh.ReadAt(ctx, buf, 4000) }); n != 0 {
		t.Errorf("a read across files allocates %v times", n)
	}
	if n := testing.AllocsPerRun(50, func() { _ = fh.WriteAt(ctx, buf, 4000, 0) }); n != 0 {
		t.Errorf("a write across files allocates %v times", n)
	}
}
