// Reclaim punches holes in the cache file, which only Linux does.

package cache

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"testing"
)

// TestReclaim reads and writes far more than cache-max-size and checks that the file's
// allocated storage stays under it, that dirty blocks reclaimed reach the plugin, and
// that the data stays right.
func TestReclaim(t *testing.T) {
	if !canPunchHoles {
		t.Skip("no hole punching here")
	}
	ctx := context.Background()
	const size, maxSize = 8 << 20, 1 << 20
	d, original := randomDisk(size, 9)
	f := newFilter(t, d, Options{MaxSize: maxSize, OnRead: Trigger{On: true}, MinBlockSize: 64 << 10})
	h := open(t, f)
	model := slices.Clone(original)
	r := rand.New(rand.NewPCG(10, 11))
	for i := range 300 {
		length := 1 + r.Int64N(128<<10)
		off := r.Int64N(size - length)
		if i%3 == 0 {
			p := bytes.Repeat([]byte{byte(i)}, int(length))
			copy(model[off:], p)
			if err := h.WriteAt(ctx, p, off, 0); err != nil {
				t.Fatal(err)
			}
		} else if got := read(t, h, off, length); !bytes.Equal(got, model[off:off+length]) {
			t.Fatalf("read %d at %d differs from the model", length, off)
		}
		if used := allocated(t, f.store.file); used > maxSize {
			t.Fatalf("after request %d the cache file uses %d bytes, more than %d", i, used, maxSize)
		}
	}
	if cached, _ := f.store.counts(); cached*f.blockSize > maxSize*95/100 {
		t.Errorf("%d blocks cached, over the high threshold", cached)
	}
	if d.Counts().Writes.Load() == 0 {
		t.Error("no dirty block was written back when reclaimed")
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Bytes(), model) {
		t.Error("after a flush the plugin differs from the model")
	}
}

// allocated returns the storage a file uses.
func allocated(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no st_blocks here")
	}
	return st.Blocks * 512
}
