package file

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func TestReadWrite(t *testing.T) {
	contents := randomBytes(t, 1<<20)
	path := writeTestFile(t, contents)
	_, h := openFile(t, Options{File: path})

	for _, r := range []struct{ off, n int64 }{{0, 4096}, {1, 1}, {4095, 2}, {12345, 65536}, {1<<20 - 7, 7}} {
		if got := mustReadAt(t, h, r.off, int(r.n)); !bytes.Equal(got, contents[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d, %d) differs from the file", r.off, r.n)
		}
	}

	writes := []struct {
		off   int64
		n     int
		flags server.Flags
	}{{0, 512, 0}, {777, 3000, server.FlagFUA}, {1<<20 - 100, 100, 0}, {65536, 131072, server.FlagFUA}}
	for _, w := range writes {
		p := randomBytes(t, w.n)
		mustWriteAt(t, h, p, w.off, w.flags)
		copy(contents[w.off:], p)
	}
	if err := h.Flush(context.Background(), 0); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if !bytes.Equal(readFile(t, path), contents) {
		t.Error("the file does not hold what was written")
	}
	if got := mustReadAt(t, h, 0, 1<<20); !bytes.Equal(got, contents) {
		t.Error("reading the export back differs from what was written")
	}
	if err := h.Cache(context.Background(), 0, 1<<20, 0); err != nil {
		t.Errorf("Cache: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	path := writeTestFile(t, make([]byte, 8192))
	ctx := context.Background()

	_, h := openFile(t, Options{File: path})
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Capabilities{Write: true, Flush: true, Trim: haveFallocate, Zero: true, FastZero: haveFallocate,
		Extents: haveSeekHole, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if !haveFadvise {
		want.Cache = server.CacheEmulate
	}
	if caps != want {
		t.Errorf("capabilities of a writable file:\n got %+v\nwant %+v", caps, want)
	}

	p := newTestPlugin(t, Options{File: path})
	ro := openLayer(t, p, "", true)
	caps, err = ro.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Write || caps.Trim || caps.Zero || caps.FastZero || caps.FUA != server.FUANone {
		t.Errorf("a read-only connection may change the file: %+v", caps)
	}
	if !caps.Flush || !caps.MultiConn {
		t.Errorf("a read-only connection lost flush or multi-conn: %+v", caps)
	}
	err = ro.WriteAt(ctx, []byte{1}, 0, 0)
	if server.ErrnoOf(err) != protocol.EPERM {
		t.Errorf("a write on a read-only connection: %v (errno %v), want EPERM", err, server.ErrnoOf(err))
	}
	if got := readFile(t, path); !bytes.Equal(got, make([]byte, 8192)) {
		t.Error("a read-only connection changed the file")
	}
}

// TestReadOnlyRequestOpensReadOnly checks that a read-only connection (gonbd -r)
// opens the file read-only, so that even a broken layer above cannot write.
func TestReadOnlyRequestOpensReadOnly(t *testing.T) {
	path := writeTestFile(t, make([]byte, 4096))
	p := newTestPlugin(t, Options{File: path})
	h, err := p.Open(context.Background(), server.OpenRequest{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.(*handle).Close()
	if _, err := h.(*handle).f.WriteAt([]byte{1}, 0); err == nil {
		t.Error("the descriptor of a read-only connection accepts writes")
	}
}

// TestOpenFallsBackToReadOnly checks the decision: a file the server may not write is
// served read-only, and other errors are errors.
func TestOpenFallsBackToReadOnly(t *testing.T) {
	path := writeTestFile(t, []byte("hello"))
	for _, refusal := range []error{syscall.EACCES, syscall.EPERM, syscall.EROFS} {
		var flags []int
		o, err := openMaybeWritable(func(flag int) (*os.File, error) {
			flags = append(flags, flag)
			if flag&(os.O_RDWR|os.O_WRONLY) != 0 {
				return nil, &os.PathError{Op: "open", Path: path, Err: refusal}
			}
			return os.OpenFile(path, flag, 0)
		}, false)
		if err != nil {
			t.Fatalf("%v: %v", refusal, err)
		}
		o.f.Close()
		if o.writable || len(flags) != 2 || flags[1] != os.O_RDONLY {
			t.Errorf("%v: writable=%v after opening with %v; want read-only after a second try", refusal, o.writable, flags)
		}
	}
	_, err := openMaybeWritable(func(flag int) (*os.File, error) {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOENT}
	}, false)
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("a missing file: %v, want ENOENT", err)
	}
}

// TestFileShrunk checks that reading past the end of a file truncated under the
// server fails with EIO rather than returning garbage.
func TestFileShrunk(t *testing.T) {
	path := writeTestFile(t, randomBytes(t, 65536))
	_, h := openFile(t, Options{File: path})
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	err := h.ReadAt(context.Background(), make([]byte, 8192), 0, 0)
	if server.ErrnoOf(err) != protocol.EIO {
		t.Errorf("reading past the new end: %v, want EIO", err)
	}
}

// TestEachConnectionOpensAnew checks that a file replaced between connections is
// served as it is now, with its new size, as in nbdkit.
func TestEachConnectionOpensAnew(t *testing.T) {
	path := writeTestFile(t, make([]byte, 4096))
	p := newTestPlugin(t, Options{File: path})
	first := openLayer(t, p, "", false)
	if err := os.WriteFile(path+".new", bytes.Repeat([]byte{7}, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	second := openLayer(t, p, "", false)
	ctx := context.Background()
	if size, _ := first.Size(ctx); size != 4096 {
		t.Errorf("the first connection's size changed to %d", size)
	}
	if size, _ := second.Size(ctx); size != 8192 {
		t.Errorf("the second connection's size is %d, want 8192", size)
	}
	if got := mustReadAt(t, second, 0, 8192); !bytes.Equal(got, bytes.Repeat([]byte{7}, 8192)) {
		t.Error("the second connection does not read the new file")
	}
}

// TestExtentsOfWrittenFile checks that a file written throughout is one data extent,
// on every system (where lseek cannot find holes, the server reports all data).
func TestExtentsOfWrittenFile(t *testing.T) {
	_, h := openFile(t, Options{File: writeTestFile(t, randomBytes(t, 100000))})
	want := []server.Extent{{Offset: 0, Length: 100000, Type: server.ExtentData}}
	if got := extentsOf(t, h, 0, 100000, 0); !slices.Equal(got, want) {
		t.Errorf("extents: got %v, want %v", got, want)
	}
}
