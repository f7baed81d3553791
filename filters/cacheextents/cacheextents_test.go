package cacheextents

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

const diskSize = 1 << 20

// newDisk returns a disk with data in the 4 KiB blocks at 0, 64 KiB and 68 KiB.
func newDisk() *servertest.Disk {
	d := servertest.NewDisk(diskSize)
	d.SetBytes([]byte{1}, 0)
	d.SetBytes([]byte{2}, 64<<10)
	d.SetBytes([]byte{3}, 68<<10)
	return d
}

func open(t *testing.T, f *Filter) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Finalize(ctx)
		h.Close(ctx)
	})
	return h
}

func extents(t *testing.T, h server.LayerHandle, off, length int64, flags server.Flags) []server.Extent {
	t.Helper()
	e := server.NewExtentList(off, off+length)
	if err := h.Extents(context.Background(), off, length, flags, e); err != nil {
		t.Fatalf("Extents(%d, %d): %v", off, length, err)
	}
	return slices.Clone(e.Extents())
}

func TestAnswersFromTheLastList(t *testing.T) {
	d := newDisk()
	h := open(t, New(d.Layer()))
	direct := open(t, New(d.Layer())) // a second connection, for the uncached answers

	want := []server.Extent{
		{Offset: 0, Length: 4096, Type: server.ExtentData},
		{Offset: 4096, Length: 60 << 10, Type: server.ExtentHole | server.ExtentZero},
		{Offset: 64 << 10, Length: 8 << 10, Type: server.ExtentData},
		{Offset: 72 << 10, Length: diskSize - 72<<10, Type: server.ExtentHole | server.ExtentZero},
	}
	if got := extents(t, h, 0, diskSize, 0); !slices.Equal(got, want) {
		t.Fatalf("extents of the disk:\n got %v\nwant %v", got, want)
	}
	calls := d.Counts().Extents.Load()

	// Everything inside the first answer comes from the cache, clipped to what was
	// asked, also with REQ_ONE.
	for _, q := range []struct{ off, length int64 }{{0, diskSize}, {100, 10}, {8192, 64 << 10}, {diskSize - 1, 1}} {
		got := extents(t, h, q.off, q.length, 0)
		if wantHere := extents(t, direct, q.off, q.length, 0); !slices.Equal(got, wantHere) {
			t.Errorf("extents(%d, %d) from the cache:\n got %v\nwant %v", q.off, q.length, got, wantHere)
		}
	}
	if got := extents(t, h, 66<<10, 100, server.FlagReqOne); len(got) != 1 || got[0].Type != server.ExtentData {
		t.Errorf("REQ_ONE at 66 KiB: %v", got)
	}
	// The second connection filled its own list once: reads of it do not count here.
	if got := d.Counts().Extents.Load() - calls; got != 1 {
		t.Errorf("%d extents calls reached the plugin after the first, want 1 (the other connection's)", got)
	}
}

func TestReqOneFillsTheWholeRange(t *testing.T) {
	d := newDisk()
	h := open(t, New(d.Layer()))
	if got := extents(t, h, 0, diskSize, server.FlagReqOne); len(got) == 0 || got[0].Offset != 0 {
		t.Fatalf("REQ_ONE extents: %v", got)
	}
	extents(t, h, 64<<10, 4096, server.FlagReqOne)
	extents(t, h, 100<<10, 4096, 0)
	if got := d.Counts().Extents.Load(); got != 1 {
		t.Errorf("%d extents calls reached the plugin, want 1", got)
	}
}

func TestMissesAskThePlugin(t *testing.T) {
	d := newDisk()
	h := open(t, New(d.Layer()))
	extents(t, h, 0, 64<<10, 0)
	extents(t, h, 64<<10, 4096, 0) // just past the first list
	extents(t, h, 0, 4096, 0)      // the first list was replaced
	if got := d.Counts().Extents.Load(); got != 3 {
		t.Errorf("%d extents calls reached the plugin, want 3", got)
	}
}

func TestChangesInvalidate(t *testing.T) {
	ctx := context.Background()
	f := New(newDisk().Layer())
	for _, change := range []struct {
		name string
		do   func(h server.LayerHandle) error
		want server.ExtentType // of the block at 256 KiB afterwards
	}{
		{"write", func(h server.LayerHandle) error { return h.WriteAt(ctx, []byte{9}, 256<<10, 0) }, server.ExtentData},
		{"zero", func(h server.LayerHandle) error { return h.Zero(ctx, 256<<10, 4096, 0) }, server.ExtentHole | server.ExtentZero},
		{"write again", func(h server.LayerHandle) error { return h.WriteAt(ctx, []byte{9}, 256<<10, 0) }, server.ExtentData},
		{"trim", func(h server.LayerHandle) error { return h.Trim(ctx, 256<<10, 4096, 0) }, server.ExtentHole | server.ExtentZero},
	} {
		t.Run(change.name, func(t *testing.T) {
			reader, writer := open(t, f), open(t, f)
			extents(t, reader, 0, diskSize, 0)
			if err := change.do(writer); err != nil {
				t.Fatal(err)
			}
			// The change was made on another connection: the reader's list is stale.
			got := extents(t, reader, 256<<10, 4096, 0)
			if len(got) != 1 || got[0].Type != change.want {
				t.Errorf("after %s on another connection: %v, want type %d", change.name, got, change.want)
			}
		})
	}
}

// TestConcurrent runs writers and extents queries at once, for the race detector and to
// check that every answer matches the disk's allocation at some point of the writes.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	f := New(servertest.NewDisk(diskSize).Layer())
	var wg sync.WaitGroup
	for w := range 4 {
		h := open(t, f)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				off := int64((w*100+i)%256) * 4096
				var err error
				if i%2 == 0 {
					err = h.WriteAt(ctx, []byte{byte(i)}, off, 0)
				} else {
					e := server.NewExtentList(0, diskSize)
					err = h.Extents(ctx, 0, diskSize, 0, e)
					if err == nil && len(e.Extents()) == 0 {
						t.Error("an empty extents answer")
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Once the writes are over, the answer is exact: every written block is data.
	h := open(t, f)
	written := make(map[int64]bool)
	for w := range 4 {
		for i := 0; i < 100; i += 2 {
			written[int64((w*100+i)%256)*4096] = true
		}
	}
	for _, x := range extents(t, h, 0, diskSize, 0) {
		for off := x.Offset; off < x.Offset+x.Length; off += 4096 {
			if isData := x.Type == server.ExtentData; isData != written[off] {
				t.Errorf("after the writes, the block at %d is data: %v, written: %v", off, isData, written[off])
			}
		}
	}
}
