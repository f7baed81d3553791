package file

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
)

func newTestPlugin(t testing.TB, opts Options) *Plugin {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	return p
}

// openLayer opens an export of p the way the server does, adapted by
// server.PluginLayer, which enforces the capabilities the handle claims.
func openLayer(t testing.TB, p *Plugin, exportName string, readOnly bool) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := server.PluginLayer("file", p).Open(ctx, server.OpenRequest{ExportName: exportName, ReadOnly: readOnly})
	if err != nil {
		t.Fatalf("Open(%q): %v", exportName, err)
	}
	if err := h.Prepare(ctx, readOnly); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		_ = h.Finalize(ctx)
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// openFile opens a file export of a new plugin.
func openFile(t testing.TB, opts Options) (*Plugin, server.LayerHandle) {
	t.Helper()
	p := newTestPlugin(t, opts)
	return p, openLayer(t, p, "", false)
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// writeTestFile makes a file in a new temporary directory holding contents.
func writeTestFile(t testing.TB, contents []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, contents, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sparseTestFile makes a sparse file of size bytes with no data at all.
func sparseTestFile(t testing.TB, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sparse.img")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustReadAt(t testing.TB, h server.LayerHandle, off int64, n int) []byte {
	t.Helper()
	p := bytes.Repeat([]byte{0xAA}, n) // garbage, so that zeroes are really read
	if err := h.ReadAt(context.Background(), p, off, 0); err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
	}
	return p
}

func mustWriteAt(t testing.TB, h server.LayerHandle, p []byte, off int64, flags server.Flags) {
	t.Helper()
	if err := h.WriteAt(context.Background(), p, off, flags); err != nil {
		t.Fatalf("WriteAt(%d bytes at %d): %v", len(p), off, err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// extentsOf returns the extents a handle reports for [off, off+length).
func extentsOf(t testing.TB, h server.LayerHandle, off, length int64, flags server.Flags) []server.Extent {
	t.Helper()
	e := server.NewExtentList(off, off+length)
	if err := h.Extents(context.Background(), off, length, flags, e); err != nil {
		t.Fatalf("Extents(%d, %d): %v", off, length, err)
	}
	return e.Extents()
}

func wantErrorContaining(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}
