package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

const mib = 1 << 20

// openPartition serves partition n of d through the filter, opened as the server opens
// it, and returns the handle.
func openPartition(t *testing.T, d *servertest.Disk, n int) server.LayerHandle {
	t.Helper()
	h, err := tryOpen(t, d, fmt.Sprint(n))
	if err != nil {
		t.Fatalf("opening partition %d: %v", n, err)
	}
	return h
}

func tryOpen(t *testing.T, d *servertest.Disk, n string) (server.LayerHandle, error) {
	t.Helper()
	ctx := context.Background()
	layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "partition="+n)
	if err != nil {
		t.Fatal(err)
	}
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { h.Close(ctx) })
	return h, h.Prepare(ctx, false)
}

// newDisk returns a servertest.Disk holding image.
func newDisk(image []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(image)))
	d.SetBytes(image, 0)
	return d
}

// checkServes checks that h serves the bytes [offset, offset+size) of d: its size, a
// read of each end, and that writes, zeroes, trims and caches land there.
func checkServes(t *testing.T, d *servertest.Disk, h server.LayerHandle, offset, size int64) {
	t.Helper()
	ctx := context.Background()
	if got, err := h.Size(ctx); err != nil || got != size {
		t.Fatalf("size %d, %v; want %d", got, err, size)
	}
	before := d.Bytes()
	head, tail := []byte("head of the partition"), []byte("tail of the partition")
	if err := h.WriteAt(ctx, head, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAt(ctx, tail, size-int64(len(tail)), server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), before...)
	copy(want[offset:], head)
	copy(want[offset+size-int64(len(tail)):], tail)
	if got := d.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("the writes did not land at bytes %d and %d of the disk only", offset, offset+size-int64(len(tail)))
	}
	got := make([]byte, len(tail))
	if err := h.ReadAt(ctx, got, size-int64(len(tail)), 0); err != nil || !bytes.Equal(got, tail) {
		t.Errorf("read back %q, %v", got, err)
	}

	if err := h.Zero(ctx, 0, 4, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Trim(ctx, size-4, 4, 0); err != nil {
		t.Fatal(err)
	}
	clear(want[offset : offset+4])
	clear(want[offset+size-4 : offset+size])
	if got := d.Bytes(); !bytes.Equal(got, want) {
		t.Error("zero and trim did not land at the partition's ends")
	}
	caches := d.Counts().Caches.Load()
	if err := h.Cache(ctx, 0, size, 0); err != nil || d.Counts().Caches.Load() != caches+1 {
		t.Errorf("cache: %v", err)
	}
}

func TestMBRPrimaryPartitions(t *testing.T) {
	image := mbrDisk(8*mib, []entry{
		{typ: 0x83, start: 2048, sectors: 2048},
		{typ: 0x82, start: 4096, sectors: 1000},
		{},
		{typ: 0x07, start: 8192, sectors: 8192},
	}, nil)
	d := newDisk(image)
	checkServes(t, d, openPartition(t, d, 1), 1*mib, 1*mib)
	checkServes(t, d, openPartition(t, d, 2), 2*mib, 1000*512)
	checkServes(t, d, openPartition(t, d, 4), 4*mib, 4*mib)
	if _, err := tryOpen(t, d, "3"); err == nil || !strings.Contains(err.Error(), "partition 3 not found") {
		t.Errorf("an empty entry: %v", err)
	}
}

func TestMBRLogicalPartitions(t *testing.T) {
	// Extended partition from 3 MiB to the end of 8 MiB; logical partitions 5, 6, 7.
	image := mbrDisk(8*mib, []entry{
		{typ: 0x83, start: 2048, sectors: 2048},
		{typ: 0x0f, start: 6144, sectors: 16384 - 6144},
	}, []logical{
		{ebr: 6144, start: 8192, sectors: 2048},
		{ebr: 10240, start: 10241, sectors: 100},
		{ebr: 12288, start: 14336, sectors: 16384 - 14336},
	})
	d := newDisk(image)
	checkServes(t, d, openPartition(t, d, 5), 4*mib, 1*mib)
	checkServes(t, d, openPartition(t, d, 6), 10241*512, 100*512)
	checkServes(t, d, openPartition(t, d, 7), 7*mib, 1*mib)
	checkServes(t, d, openPartition(t, d, 1), 1*mib, 1*mib)
	for n, want := range map[string]string{
		"2": "partition 2 is the extended partition",
		"3": "partition 3 not found",
		"8": "partition 8 not found: the last logical partition is 7",
	} {
		if _, err := tryOpen(t, d, n); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("partition=%s: %v, want %q", n, err, want)
		}
	}
}

func TestGPTPartitions(t *testing.T) {
	image := gptDisk(8*mib, []gptPart{
		{used: true, first: 2048, last: 4095},
		{},
		{used: true, first: 4096, last: 4096},
		{used: true, first: 6000, last: 16383 - 34},
	})
	// A protective MBR makes no difference: the GPT header is what counts.
	d := newDisk(image)
	checkServes(t, d, openPartition(t, d, 1), 1*mib, 1*mib)
	checkServes(t, d, openPartition(t, d, 3), 2*mib, 512)
	checkServes(t, d, openPartition(t, d, 4), 6000*512, (16383-34-6000+1)*512)
	for n, want := range map[string]string{
		"2":   "GPT partition 2 not found: its entry is unused",
		"129": "GPT partition 129 not found: the table has 128 entries",
	} {
		if _, err := tryOpen(t, d, n); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("partition=%s: %v, want %q", n, err, want)
		}
	}
}

func TestExtentsAreMoved(t *testing.T) {
	ctx := context.Background()
	image := mbrDisk(4*mib, []entry{{typ: 0x83, start: 2048, sectors: 4096}}, nil)
	d := servertest.NewDisk(int64(len(image)))
	d.SetBytes(image[:512], 0)                            // the MBR: block 0 allocated
	d.SetBytes([]byte{1}, 1*mib+64<<10)                   // one block of the partition
	d.SetBytes(bytes.Repeat([]byte{2}, 8192), 3*mib-4096) // the partition's last blocks and beyond
	h := openPartition(t, d, 1)
	e := server.NewExtentList(0, 2*mib)
	if err := h.Extents(ctx, 0, 2*mib, 0, e); err != nil {
		t.Fatal(err)
	}
	hole := server.ExtentHole | server.ExtentZero
	want := []server.Extent{
		{Offset: 0, Length: 64 << 10, Type: hole},
		{Offset: 64 << 10, Length: 4096, Type: server.ExtentData},
		{Offset: 68 << 10, Length: 2*mib - 4096 - 68<<10, Type: hole},
		{Offset: 2*mib - 4096, Length: 4096, Type: server.ExtentData},
	}
	if got := e.Extents(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("extents\n got %v\nwant %v", got, want)
	}
	// A range in the middle.
	e = server.NewExtentList(60<<10, 70<<10)
	if err := h.Extents(ctx, 60<<10, 10<<10, 0, e); err != nil {
		t.Fatal(err)
	}
	want = []server.Extent{{Offset: 60 << 10, Length: 4096, Type: hole}, {Offset: 64 << 10, Length: 4096, Type: server.ExtentData}, {Offset: 68 << 10, Length: 2048, Type: hole}}
	if got := e.Extents(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("extents of a range\n got %v\nwant %v", got, want)
	}
}

func TestBrokenTables(t *testing.T) {
	ext := entry{typ: 0x05, start: 2048, sectors: 8192}
	loop := mbrDisk(8*mib, []entry{ext}, []logical{{ebr: 2048, start: 2049, sectors: 10}, {ebr: 2060, start: 2061, sectors: 10}})
	// Make the second EBR link back to the first.
	putMBREntry(loop[2060*512:], 1, entry{typ: 0x05, start: 0, sectors: 20})
	outside := mbrDisk(8*mib, []entry{ext}, []logical{{ebr: 2048, start: 2049, sectors: 10}})
	putMBREntry(outside[2048*512:], 1, entry{typ: 0x05, start: 9000, sectors: 20})
	unsigned := mbrDisk(8*mib, []entry{ext}, []logical{{ebr: 2048, start: 2049, sectors: 10}, {ebr: 2060, start: 2061, sectors: 10}})
	unsigned[2060*512+511] = 0
	beyond := mbrDisk(2*mib, []entry{{typ: 0x83, start: 2048, sectors: 4096}}, nil)
	gptBadEntrySize := gptDisk(1*mib, []gptPart{{used: true, first: 40, last: 50}})
	gptBadEntrySize[512+84] = 64
	gptBackwards := gptDisk(1*mib, []gptPart{{used: true, first: 50, last: 40}})
	gptBeyond := gptDisk(1*mib, []gptPart{{used: true, first: 40, last: 1 << 40}})
	gptArrayBeyond := gptDisk(1*mib, []gptPart{{used: true, first: 40, last: 50}})
	gptArrayBeyond[512+72+4] = 1 // the array LBA becomes 2 + 2^32

	tests := []struct {
		name  string
		image []byte
		n     string
		want  string
	}{
		{"no table", make([]byte, mib), "1", "no MBR or GPT partition table"},
		{"too small", make([]byte, 1000), "1", "too small"},
		{"no extended partition", mbrDisk(mib, []entry{{typ: 0x83, start: 1, sectors: 10}}, nil), "5", "no extended partition"},
		{"EBR chain loops", loop, "7", "links back"},
		{"EBR outside the extended partition", outside, "6", "outside the extended partition"},
		{"EBR without signature", unsigned, "6", "no boot signature"},
		{"partition past the disk", beyond, "1", "outside the disk"},
		{"GPT entries too small", gptBadEntrySize, "1", "entries of 64 bytes"},
		{"GPT partition ends first", gptBackwards, "1", "before it starts"},
		{"GPT partition past the disk", gptBeyond, "1", "outside the disk"},
		{"GPT array past the disk", gptArrayBeyond, "1", "outside the disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryOpen(t, newDisk(tt.image), tt.n)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "partition="+tt.n) {
				t.Errorf("%v, want an error saying partition=%s and %q", err, tt.n, tt.want)
			}
		})
	}
}

func TestReadErrorsReachTheClient(t *testing.T) {
	d := newDisk(mbrDisk(4*mib, []entry{{typ: 0x83, start: 2048, sectors: 2048}}, nil))
	h := openPartition(t, d, 1)
	d.Fault = func(op string, off, length int64) error {
		if op == "read" && off == 1*mib+512 {
			return syscall.ENOSPC
		}
		return nil
	}
	if err := h.ReadAt(context.Background(), make([]byte, 512), 512, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("read at the faulty offset: %v, want ENOSPC", err)
	}
}

func TestSpecRefusesBadParameters(t *testing.T) {
	d := servertest.NewDisk(mib)
	for _, tt := range []struct {
		params []string
		want   []string
	}{
		{nil, []string{"partition", "missing"}},
		{[]string{"partition=0"}, []string{"partition=0", "from 1"}},
		{[]string{"partition=-2"}, []string{"partition=-2", "from 1"}},
		{[]string{"partition=banana"}, []string{"partition=banana"}},
		{[]string{"partition=99999999999"}, []string{"partition=99999999999", "range"}},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tt.params...)
		if err == nil {
			t.Errorf("%v: accepted", tt.params)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", tt.params, err, w)
			}
		}
	}
	if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "partition=0x2"); err != nil {
		t.Errorf("partition=0x2 (C syntax, as nbdkit): %v", err)
	}
}
