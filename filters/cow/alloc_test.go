package cow

import (
	"context"
	"testing"
)

// TestHotPathAllocations checks that reads and writes, whole-block and partial, from
// the overlay and from the plugin, allocate nothing once the pools are warm.
func TestHotPathAllocations(t *testing.T) {
	ctx := context.Background()
	d, _ := randomDisk(1<<20, 40)
	h := open(t, newFilter(t, d, Options{}))
	whole, partial := make([]byte, 64<<10), make([]byte, 1000)
	allocs := testing.AllocsPerRun(100, func() {
		if err := h.WriteAt(ctx, whole, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := h.WriteAt(ctx, partial, 70000, 0); err != nil {
			t.Fatal(err)
		}
		if err := h.ReadAt(ctx, whole, 100, 0); err != nil {
			t.Fatal(err)
		}
		if err := h.ReadAt(ctx, partial, 500000, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per round of reads and writes, want 0", allocs)
	}
}
