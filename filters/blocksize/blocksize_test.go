package blocksize

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// limitChecker is a Disk.Fault hook that fails the test when a request reaching the
// plugin breaks the filter's promises.
func limitChecker(t *testing.T, minBlock, maxData, maxLen int64) func(op string, off, length int64) error {
	return func(op string, off, length int64) error {
		if op == "flush" {
			return nil
		}
		limit := maxLen
		if op == "read" || op == "write" {
			limit = maxData
		}
		if off%minBlock != 0 || length%minBlock != 0 || length > limit {
			t.Errorf("%s of %d bytes at %d reached the plugin (minblock %d, limit %d)", op, length, off, minBlock, limit)
		}
		return nil
	}
}

func openBlocksize(t *testing.T, d *servertest.Disk, opts Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	l, err := New(d.Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAgainstModel applies random unaligned requests through the filter and to a
// byte slice, and compares.
func TestAgainstModel(t *testing.T) {
	ctx := context.Background()
	const size = 256<<10 + 100 // the filter rounds down to 256 KiB
	opts := Options{MinBlock: 4096, MaxData: 12288, MaxLen: 16384}
	d := servertest.NewDisk(size)
	d.Fault = limitChecker(t, 4096, 12288, 16384)
	h := openBlocksize(t, d, opts)
	if got, _ := h.Size(ctx); got != 256<<10 {
		t.Fatalf("Size = %d, want 256 KiB", got)
	}
	model := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		off := rng.Int64N(int64(len(model)))
		length := 1 + rng.Int64N(min(int64(len(model))-off, 40000))
		var err error
		switch op := rng.IntN(5); op {
		case 0, 1:
			data := make([]byte, length)
			for j := range data {
				data[j] = byte(i + 1)
			}
			err = h.WriteAt(ctx, data, off, server.Flags(rng.IntN(2))*server.FlagFUA)
			copy(model[off:], data)
		case 2:
			err = h.Zero(ctx, off, length, server.FlagMayTrim)
			clear(model[off : off+length])
		case 3:
			// Trim leaves contents undefined; the model records what the disk does:
			// zeroes in the blocks covered whole, the rest untouched.
			err = h.Trim(ctx, off, length, 0)
			start, end := (off+4095)/4096*4096, (off+length)/4096*4096
			if start < end {
				clear(model[start:end])
			}
		case 4:
			got := make([]byte, length)
			err = h.ReadAt(ctx, got, off, 0)
			if err == nil && !bytes.Equal(got, model[off:off+length]) {
				t.Fatalf("step %d: read of %d at %d differs from the model", i, length, off)
			}
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if got := d.Bytes()[:len(model)]; !bytes.Equal(got, model) {
		t.Error("the disk differs from the model")
	}
	e := server.NewExtentList(100, 200)
	if err := h.Extents(ctx, 100, 100, 0, e); err != nil || len(e.Extents()) != 1 || e.Extents()[0].Offset != 100 {
		t.Errorf("Extents = %v, %v", e.Extents(), err)
	}
	if err := h.Cache(ctx, 1, 100000, 0); err != nil {
		t.Error(err)
	}
}

// TestConcurrentRMW writes single bytes of the same blocks from many goroutines: the
// read-modify-write cycles must not undo each other.
func TestConcurrentRMW(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	h := openBlocksize(t, d, Options{MinBlock: 4096})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 8192; i += 16 {
				if err := h.WriteAt(ctx, []byte{byte(i%255 + 1)}, int64(i), 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := d.Bytes()
	for i := range 8192 {
		if got[i] != byte(i%255+1) {
			t.Fatalf("byte %d = %d, want %d: a read-modify-write was lost", i, got[i], i%255+1)
		}
	}
}

func TestBlockSizeAdvertised(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		minBlock uint32
		want     server.BlockSize
	}{
		{0, server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: math.MaxUint32}},
		{4096, server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: math.MaxUint32}},
		{64 << 10, server.BlockSize{Minimum: 1, Preferred: 64 << 10, Maximum: math.MaxUint32}},
	} {
		h := openBlocksize(t, servertest.NewDisk(1<<20), Options{MinBlock: tc.minBlock})
		if got, err := h.BlockSize(ctx); err != nil || got != tc.want {
			t.Errorf("minblock=%d: BlockSize = %+v, %v; want %+v (nbdkit's answer)", tc.minBlock, got, err, tc.want)
		}
	}
}

func TestFastZeroUnaligned(t *testing.T) {
	ctx := context.Background()
	h := openBlocksize(t, servertest.NewDisk(1<<20), Options{MinBlock: 512})
	if err := h.Zero(ctx, 100, 1000, server.FlagFastZero); err == nil || !strings.Contains(err.Error(), "fast zero refused") {
		t.Errorf("an unaligned fast zero: %v", err)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(1 << 20).Spec()
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"minblock=3"}, "minblock=3: must be a power of 2 no larger than 64k"},
		{[]string{"minblock=128k"}, "minblock=131072: must be a power of 2"},
		{[]string{"minblock=4k", "maxdata=5000"}, "maxdata=5000: must be a multiple of minblock (4096)"},
		{[]string{"minblock=4k", "maxlen=1000"}, "maxlen=1000: must be a multiple of minblock"},
		{[]string{"maxdata=8G"}, "maxdata=8589934592: must be less than 4G"},
		{[]string{"maxlen=lots"}, "maxlen=lots: could not parse size"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.params, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1 << 20)
	d.Fault = limitChecker(t, 4096, 8192, 65536)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "minblock=4k", "maxdata=8k", "maxlen=64k")
	servertest.QemuIO(t, s.URI(),
		"write -P 0x11 1 10",
		"write -P 0x22 4095 40000",
		"write -z 50000 200000",
		"read -P 0x11 1 10",
		"read -P 0x22 4095 40000",
		"read -P 0 50000 200000",
		"discard 300001 100000",
	)
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_block_size(nbd.SIZE_MINIMUM) == 1",
		"assert h.get_block_size(nbd.SIZE_PREFERRED) == 4096",
		"h.pwrite(b'abc', 1000001)",
		"assert h.pread(5, 1000000) == b'\\x00abc\\x00'",
		"buf = h.pread(1 << 20, 0)",
		fmt.Sprintf("assert buf[1:11] == b'\\x11' * 10 and buf[4095:44095] == b'\\x22' * 40000 and buf[50000:250000] == bytes(200000), %q", "contents"),
	)
	want := make([]byte, 1<<20)
	copy(want[1:], bytes.Repeat([]byte{0x11}, 10))
	copy(want[4095:], bytes.Repeat([]byte{0x22}, 40000))
	copy(want[1000001:], "abc")
	got := d.Bytes()
	clear(got[300001:400002]) // the discarded range, whatever the disk kept
	clear(want[300001:400002])
	if !bytes.Equal(got, want) {
		t.Error("the disk does not hold what the clients wrote")
	}
}
