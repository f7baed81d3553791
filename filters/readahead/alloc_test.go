package readahead

import (
	"context"
	"testing"
)

// TestHotPathAllocations checks that sequential reads allocate nothing once the
// buffers have grown to the largest window.
func TestHotPathAllocations(t *testing.T) {
	ctx := context.Background()
	const size = 64 << 20
	d, _ := randomDisk(size, 40)
	h := open(t, New(d.Layer()))
	p := make([]byte, 64<<10)
	off := int64(0)
	read := func() {
		if err := h.ReadAt(ctx, p, off, 0); err != nil {
			t.Fatal(err)
		}
		off = (off + int64(len(p))) % (size / 2)
	}
	for range 200 { // grow the window and both buffers
		read()
	}
	if allocs := testing.AllocsPerRun(100, read); allocs > 0 {
		t.Errorf("%v allocations per sequential read, want 0", allocs)
	}
}
