package cache

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestEndToEndWriteback writes with qemu-io in writeback mode: nothing reaches the
// plugin until qemu-io's closing flush, after which the plugin holds the model.
func TestEndToEndWriteback(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	const size = 4 << 20
	d, original := randomDisk(size, 30)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()})
	model := slices.Clone(original)
	copy(model[12345:], bytes.Repeat([]byte{0xaa}, 100000)) // what nbdsh writes first
	r := rand.New(rand.NewPCG(31, 32))
	var cmds []string
	for range 200 {
		length := 1 + r.Int64N(64<<10)
		off := r.Int64N(size - length)
		fill := byte(r.IntN(256))
		cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", fill, off, length))
		copy(model[off:], bytes.Repeat([]byte{fill}, int(length)))
	}
	// nbdsh writes and reads back without flushing: the plugin sees no write.
	servertest.Nbdsh(t, s.URI(),
		"h.pwrite(b'\\xaa' * 100000, 12345)",
		"assert h.pread(100000, 12345) == b'\\xaa' * 100000",
		"assert h.can_flush() and h.can_fua() and h.can_multi_conn() and h.can_cache()",
	)
	if n := d.Counts().Writes.Load(); n != 0 {
		t.Fatalf("%d writes reached the plugin before any flush", n)
	}
	servertest.QemuIO(t, s.URI(), append(cmds, "flush")...)
	if !bytes.Equal(d.Bytes(), model) {
		t.Error("after the flush the plugin differs from the model")
	}
	if d.Counts().Flushes.Load() == 0 {
		t.Error("the flush did not reach the plugin")
	}
}

// TestEndToEndCacheOnRead copies the disk out twice with qemu-img; the second pass
// comes from the cache.
func TestEndToEndCacheOnRead(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img")
	d, original := randomDisk(4<<20, 33)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "cache-on-read=true")
	for pass := range 2 {
		out := filepath.Join(t.TempDir(), "out.img")
		servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, original) {
			t.Fatalf("pass %d: the copy differs from the disk", pass)
		}
		if pass == 0 {
			d.Counts().BytesRead.Store(0)
		}
	}
	if n := d.Counts().BytesRead.Load(); n != 0 {
		t.Errorf("the second pass read %d bytes from the plugin", n)
	}
}

// TestEndToEndLimitedWritethrough copies a random file in with nbdcopy through a small
// writethrough cache and reads it back with qemu-img.
func TestEndToEndLimitedWritethrough(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img")
	const size = 8 << 20
	d := servertest.NewDisk(size)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()},
		"cache=writethrough", "cache-max-size=1M", "cache-on-read=true")
	dir := t.TempDir()
	in, sum := servertest.RandomFile(t, dir, size)
	servertest.MustRun(t, "nbdcopy", in, s.URI())
	if servertest.SHA256(d.Bytes()) != sum {
		t.Fatal("writethrough: the plugin does not hold what nbdcopy wrote")
	}
	out := filepath.Join(dir, "out.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	if got, _ := servertest.FileSHA256(t, out); got != sum {
		t.Error("the copy read back differs")
	}
}
