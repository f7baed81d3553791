package gzip

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
	"github.com/klauspost/compress/gzip"
)

// testImage returns size bytes that look like a disk image: runs of random bytes,
// of text-like bytes (which compress well) and of zeroes, some longer than a zero
// block, in an order fixed by seed.
func testImage(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	img := make([]byte, size)
	const text = "the quick brown fox jumps over the lazy dog\n"
	for pos := 0; pos < size; {
		n := min(size-pos, 1+rng.IntN(300<<10))
		switch rng.IntN(3) {
		case 0:
			chunk := img[pos : pos+n]
			for len(chunk) >= 8 {
				binary.LittleEndian.PutUint64(chunk, rng.Uint64())
				chunk = chunk[8:]
			}
			for i := range chunk {
				chunk[i] = byte(rng.Uint32())
			}
		case 1:
			// Text with a random word now and then: compressible, not trivially.
			for i := 0; i < n; {
				i += copy(img[pos+i:pos+n], text[rng.IntN(len(text)):])
				if i < n {
					img[pos+i] = byte('A' + rng.IntN(26))
					i++
				}
			}
		case 2: // zeroes: already there
		}
		pos += n
	}
	return img
}

// gzipBytes compresses data as one gzip member per part (data cut at the given
// offsets).
func gzipBytes(t testing.TB, data []byte, cuts ...int) []byte {
	t.Helper()
	var out bytes.Buffer
	prev := 0
	for _, cut := range append(cuts, len(data)) {
		w := gzip.NewWriter(&out)
		w.Name = "part" // exercise the optional header fields
		if _, err := w.Write(data[prev:cut]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		prev = cut
	}
	return out.Bytes()
}

// gzipCommand compresses data with the gzip program, with extra options.
func gzipCommand(t testing.TB, data []byte, options ...string) []byte {
	t.Helper()
	needProgram(t, "gzip")
	path := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	servertest.MustRun(t, "gzip", append(options, path)...)
	gz, err := os.ReadFile(path + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	return gz
}

// needProgram skips the test when a program is missing (fails it under
// GONBD_REQUIRE_CLIENTS=1).
func needProgram(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		servertest.NeedClient(t, name)
	}
}

// diskOf returns a read-only servertest disk holding data.
func diskOf(data []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(data)))
	d.SetBytes(data, 0)
	d.ReadOnly = true
	return d
}

// openLayer makes the filter in front of next, gets it ready and opens and prepares a
// handle, as the server would; the filter is cleaned up when the test ends.
func openLayer(t testing.TB, next server.Layer, opts Options) (*Filter, server.LayerHandle, error) {
	t.Helper()
	ctx := context.Background()
	f, err := New(next, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Cleanup(ctx) })
	if err := f.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	return f, h, h.Prepare(ctx, false)
}

// mustOpen is openLayer that fails the test when Prepare fails.
func mustOpen(t testing.TB, next server.Layer, opts Options) (*Filter, server.LayerHandle) {
	t.Helper()
	f, h, err := openLayer(t, next, opts)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return f, h
}
