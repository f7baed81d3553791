package file

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// testDir makes a directory holding two files, a symbolic link to a file outside
// it, a dangling link, a subdirectory and (where there are FIFOs) a named pipe:
// a.img, b.img and link.img are exports, the rest are not.
func testDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "exports")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(dir, 0o755))
	must(os.WriteFile(filepath.Join(dir, "a.img"), bytes.Repeat([]byte("a"), 1024), 0o644))
	must(os.WriteFile(filepath.Join(dir, "b.img"), bytes.Repeat([]byte("b"), 2048), 0o644))
	must(os.WriteFile(filepath.Join(root, "outside.img"), bytes.Repeat([]byte("o"), 3072), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	if runtime.GOOS != "windows" {
		must(os.Symlink("../outside.img", filepath.Join(dir, "link.img")))
		must(os.Symlink("nowhere", filepath.Join(dir, "dangling")))
		must(mkfifo(filepath.Join(dir, "fifo")))
	}
	return dir
}

func wantExports() []server.Export {
	if runtime.GOOS == "windows" {
		return []server.Export{{Name: "a.img"}, {Name: "b.img"}}
	}
	return []server.Export{{Name: "a.img"}, {Name: "b.img"}, {Name: "link.img"}}
}

func TestDir(t *testing.T) {
	testDirectory(t, func(t *testing.T, dir string) Options { return Options{Dir: dir} })
}

func TestDirFD(t *testing.T) {
	if !descriptorsSupported {
		t.Skip("dirfd= is Unix only")
	}
	testDirectory(t, func(t *testing.T, dir string) Options {
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return Options{DirFD: d}
	})
}

func testDirectory(t *testing.T, options func(t *testing.T, dir string) Options) {
	dir := testDir(t)
	p := newTestPlugin(t, options(t, dir))
	ctx := context.Background()

	for range 2 { // a second listing starts from the beginning too
		exports, err := p.ListExports(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(exports, wantExports()) {
			t.Errorf("exports: got %v, want %v", exports, wantExports())
		}
	}

	want := map[string]struct {
		size  int64
		first byte
	}{"a.img": {1024, 'a'}, "b.img": {2048, 'b'}, "link.img": {3072, 'o'}}
	for _, e := range wantExports() {
		h := openLayer(t, p, e.Name, false)
		if size, _ := h.Size(ctx); size != want[e.Name].size {
			t.Errorf("%s: size %d, want %d", e.Name, size, want[e.Name].size)
		}
		if got := mustReadAt(t, h, 0, 1); got[0] != want[e.Name].first {
			t.Errorf("%s: reads %q, want %q", e.Name, got, want[e.Name].first)
		}
	}
	h := openLayer(t, p, "b.img", false)
	mustWriteAt(t, h, []byte("written"), 100, server.FlagFUA)
	if got := readFile(t, filepath.Join(dir, "b.img")); string(got[100:107]) != "written" {
		t.Errorf("a write to export b.img did not reach the file: %q", got[100:107])
	}

	refused := []string{"", "missing.img", "sub", "dangling", "fifo", ".", "..", "../exports/a.img", "/a.img", "sub/../a.img"}
	for _, name := range refused {
		_, err := p.Open(ctx, server.OpenRequest{ExportName: name})
		if err == nil {
			t.Errorf("export %q: opened, want ENOENT", name)
			continue
		}
		if !errors.Is(err, syscall.ENOENT) {
			t.Errorf("export %q: %v, want ENOENT", name, err)
		}
		if bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Errorf("export %q: the error tells the client the server's directory: %v", name, err)
		}
	}
}

func TestFD(t *testing.T) {
	if !descriptorsSupported {
		t.Skip("fd= is Unix only")
	}
	contents := randomBytes(t, 65536)
	path := writeTestFile(t, contents)
	ctx := context.Background()

	t.Run("read-write", func(t *testing.T) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Options{FD: f})
		if err != nil {
			t.Fatal(err)
		}
		h1 := openLayer(t, p, "", false)
		h2 := openLayer(t, p, "any name", false)
		mustWriteAt(t, h1, []byte("one"), 0, 0)
		if got := mustReadAt(t, h2, 0, 3); string(got) != "one" {
			t.Errorf("the second connection reads %q where the first wrote", got)
		}
		if caps, _ := h2.Capabilities(ctx); !caps.Write {
			t.Error("a read-write descriptor is served read-only")
		}
		h1.Close(ctx) // a connection ending must not close the shared descriptor
		if got := mustReadAt(t, h2, 0, 3); string(got) != "one" {
			t.Errorf("after the first connection closed, the second reads %q", got)
		}
		p.Cleanup(ctx)
		if _, err := f.Stat(); err == nil {
			t.Error("Cleanup did not close the descriptor")
		}
	})

	t.Run("read-only", func(t *testing.T) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		p := newTestPlugin(t, Options{FD: f})
		h := openLayer(t, p, "", false)
		caps, _ := h.Capabilities(ctx)
		if caps.Write {
			t.Error("a read-only descriptor is served writable")
		}
		if got := mustReadAt(t, h, 1000, 100); !bytes.Equal(got, readFile(t, path)[1000:1100]) {
			t.Error("reading through the descriptor differs from the file")
		}
	})

	t.Run("refused", func(t *testing.T) {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Options{FD: w})
		wantErrorContaining(t, err, "writing only")
		if _, err := w.Stat(); err == nil {
			t.Error("New failed and left the descriptor open")
		}
		d, err := os.Open(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Options{FD: d})
		wantErrorContaining(t, err, "is a directory", "dirfd=")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Options{DirFD: f})
		wantErrorContaining(t, err, "not a directory")
	})
}
