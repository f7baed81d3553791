package qcow2dec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// sourceSize is the size of the raw disks the tests convert: not a whole number of
// clusters, so that the last cluster is partial.
const sourceSize = 8<<20 + 3*4096

// makeSource writes a raw disk with random data, long runs of zeroes, text that
// compresses well and scattered small writes, and returns its path and contents.
func makeSource(t testing.TB) (string, []byte) {
	t.Helper()
	b := make([]byte, sourceSize)
	rand.Read(b[:1<<20])                                                             // incompressible
	copy(b[2<<20:3<<20], bytes.Repeat([]byte("the quick brown fox jumps. "), 40000)) // compressible
	rand.Read(b[3<<20 : 3<<20+100])
	rand.Read(b[5<<20+12345 : 5<<20+70000])
	rand.Read(b[sourceSize-5000:])
	path := filepath.Join(t.TempDir(), "source.raw")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// qemuImg runs qemu-img, skipping the test when it is missing.
func qemuImg(t testing.TB, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed")
	}
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %q: %v\n%s", args, err, out)
	}
	return out
}

// convert makes a qcow2 image of src with qemu-img convert and extra options, and
// returns its contents.
func convert(t testing.TB, src string, opts ...string) (string, []byte) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "image.qcow2")
	qemuImg(t, append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, opts...), src, img)...)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return img, b
}

// diskOf returns a servertest disk holding b.
func diskOf(b []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(b)))
	d.SetBytes(b, 0)
	return d
}

// openHandle opens the filter over a disk holding image and prepares the handle.
func openHandle(t testing.TB, image []byte) (server.LayerHandle, error) {
	t.Helper()
	l, err := New(diskOf(image).Layer(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return h, h.Prepare(ctx, true)
}

// qemuMap returns the extents `qemu-img map` reports for img, as base:allocation
// would describe them, merged.
func qemuMap(t testing.TB, img string) []server.Extent {
	t.Helper()
	var entries []struct {
		Start, Length int64
		Zero, Data    bool
	}
	if err := json.Unmarshal(qemuImg(t, "map", "--output=json", img), &entries); err != nil {
		t.Fatal(err)
	}
	var list []server.Extent
	for _, e := range entries {
		typ := server.ExtentData
		if !e.Data {
			typ = server.ExtentHole
		}
		if e.Zero {
			typ |= server.ExtentZero
		}
		list = appendExtent(list, server.Extent{Offset: e.Start, Length: e.Length, Type: typ})
	}
	return list
}

// appendExtent appends x to list, merging it with the last extent of the same type.
func appendExtent(list []server.Extent, x server.Extent) []server.Extent {
	if n := len(list); n > 0 && list[n-1].Type == x.Type {
		list[n-1].Length += x.Length
		return list
	}
	return append(list, x)
}

// qemuIO runs qemu-io commands on a qcow2 image.
func qemuIO(t testing.TB, img string, cmds ...string) {
	t.Helper()
	args := []string{"-f", "qcow2"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, img)...).CombinedOutput()
	if err != nil || bytes.Contains(bytes.ToLower(out), []byte("fail")) {
		t.Fatalf("qemu-io %q: %v\n%s", cmds, err, out)
	}
}

// qemuRead returns the virtual disk of img as qemu reads it.
func qemuRead(t testing.TB, img string) []byte {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "read.raw")
	qemuImg(t, "convert", "-O", "raw", img, raw)
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
