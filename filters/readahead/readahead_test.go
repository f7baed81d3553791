package readahead

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// randomDisk returns a disk of size random bytes and a copy of them.
func randomDisk(size int64, seed byte) (*servertest.Disk, []byte) {
	d := servertest.NewDisk(size)
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{seed}).Read(data)
	d.SetBytes(data, 0)
	return d, data
}

// recordReads makes d record the length of every read that reaches it.
func recordReads(d *servertest.Disk) func() []int64 {
	var mu sync.Mutex
	var lengths []int64
	d.Fault = func(op string, off, length int64) error {
		if op == "read" {
			mu.Lock()
			lengths = append(lengths, length)
			mu.Unlock()
		}
		return nil
	}
	return func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lengths)
	}
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

func TestSequentialReadsGrowTheWindow(t *testing.T) {
	ctx := context.Background()
	const size = 16 << 20
	d, original := randomDisk(size, 1)
	reads := recordReads(d)
	h := open(t, New(d.Layer()))
	p := make([]byte, 4096)
	for off := int64(0); off < size; off += int64(len(p)) {
		if err := h.ReadAt(ctx, p, off, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, original[off:off+int64(len(p))]) {
			t.Fatalf("wrong data at %d", off)
		}
	}
	got := reads()
	// 4096 client reads; the window doubles from 64 KiB to 4 MiB in 7 reads, and then
	// each read of the plugin covers 4 MiB more.
	if len(got) > 12 {
		t.Errorf("%d reads reached the plugin for 4096 sequential reads: %v", len(got), got)
	}
	for i := 1; i < len(got)-1; i++ {
		if got[i] < got[i-1] {
			t.Errorf("the reads of the plugin shrank: %v", got)
			break
		}
	}
	if last := got[len(got)-2]; last != 4096+MaxWindow {
		t.Errorf("the window did not reach its maximum: %v", got)
	}
}

func TestRandomReadsKeepTheWindowSmall(t *testing.T) {
	ctx := context.Background()
	const size = 16 << 20
	d, original := randomDisk(size, 2)
	reads := recordReads(d)
	h := open(t, New(d.Layer()))
	r := rand.New(rand.NewPCG(1, 2))
	p := make([]byte, 4096)
	for range 200 {
		off := r.Int64N(size - 4096)
		if err := h.ReadAt(ctx, p, off, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, original[off:off+4096]) {
			t.Fatalf("wrong data at %d", off)
		}
	}
	for _, n := range reads() {
		if n > 4096+MinWindow {
			t.Fatalf("a random read read %d bytes ahead: %v", n, reads())
		}
	}
}

func TestChangesInvalidate(t *testing.T) {
	ctx := context.Background()
	d, _ := randomDisk(1<<20, 3)
	f := New(d.Layer())
	reader, writer := open(t, f), open(t, f)
	for _, change := range []struct {
		name string
		do   func() error
		want []byte
	}{
		{"write", func() error { return writer.WriteAt(ctx, []byte("new!"), 8192, 0) }, []byte("new!")},
		{"zero", func() error { return writer.Zero(ctx, 8192, 4, 0) }, make([]byte, 4)},
		{"write again", func() error { return writer.WriteAt(ctx, []byte("more"), 8192, 0) }, []byte("more")},
		{"trim", func() error { return writer.Trim(ctx, 0, 64<<10, 0) }, make([]byte, 4)},
	} {
		p := make([]byte, 4096)
		if err := reader.ReadAt(ctx, p, 0, 0); err != nil { // reads ahead past 8192
			t.Fatal(err)
		}
		if err := change.do(); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if err := reader.ReadAt(ctx, got, 8192, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, change.want) {
			t.Errorf("after a %s on another connection, read %q, want %q", change.name, got, change.want)
		}
	}
}

// TestConcurrent reads sequentially on several connections while others write, for the
// race detector, and checks that no read returns data older than a write that ended
// before the read began.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	const size = 4 << 20
	d, _ := randomDisk(size, 4)
	f := New(d.Layer())
	var wg sync.WaitGroup
	// Each writer owns one 64 KiB region and writes an increasing counter in it;
	// readers must never see a region's counter go backwards.
	const writers = 4
	var done sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		h := open(t, f)
		done.Add(1)
		go func() {
			defer done.Done()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := h.WriteAt(ctx, bytes.Repeat([]byte{byte(i)}, 64<<10), int64(w)*(1<<20), 0); err != nil {
					t.Error(err)
					return
				}
				if i == 250 {
					return
				}
			}
		}()
	}
	for range 3 {
		h := open(t, f)
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]byte, writers)
			p := make([]byte, 16<<10)
			for pass := 0; pass < 5; pass++ {
				for off := int64(0); off < size; off += int64(len(p)) {
					if err := h.ReadAt(ctx, p, off, 0); err != nil {
						t.Error(err)
						return
					}
					if w := off >> 20; off%(1<<20) == 0 && p[0] == p[len(p)-1] {
						if p[0] < seen[w] && seen[w]-p[0] < 128 {
							t.Errorf("region %d went back from %d to %d", w, seen[w], p[0])
						}
						seen[w] = p[0]
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	done.Wait()
	// After the writes, reads through a connection that read before are current.
	h := open(t, f)
	want := d.Bytes()
	got := make([]byte, size)
	if err := h.ReadAt(ctx, got, 0, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the final read differs from the disk (%v)", err)
	}
}
