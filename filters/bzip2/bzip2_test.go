package bzip2

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// testData returns size bytes: random, random nibbles (compressible), and long runs,
// which bzip2's run-length stages turn into blocks of much more data than the block
// size.
func testData(size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	for i := 0; i < size; i += 256 << 10 {
		for j := i; j < min(i+100<<10, size); j++ {
			b[j] &= 0x0f
		}
		clear(b[min(i+150<<10, size):min(i+200<<10, size)])
	}
	return b
}

// compress runs bzip2 with args on data.
func compress(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 is not installed")
	}
	cmd := exec.Command("bzip2", append([]string{"-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bzip2 %q: %v\n%s", args, err, &stderr)
	}
	return out.Bytes()
}

func readerOf(b []byte) reader {
	return func(ctx context.Context, p []byte, off int64) error {
		_, err := bytes.NewReader(b).ReadAt(p, off)
		return err
	}
}

// openHandle opens the filter with opts over a disk holding file.
func openHandle(t testing.TB, file []byte, opts Options) (server.LayerHandle, *servertest.Disk, error) {
	t.Helper()
	d := servertest.NewDisk(int64(len(file)))
	d.SetBytes(file, 0)
	l, err := New(d.Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return h, d, h.Prepare(ctx, true)
}

func TestReadsBack(t *testing.T) {
	data := testData(400<<10 + 54321)
	small := []byte("a small stream\n")
	for _, tc := range []struct {
		name      string
		file      []byte
		want      []byte
		minBlocks int
	}{
		{"level 9", compress(t, data, "-9"), data, 1},
		{"level 1", compress(t, data, "-1"), data, 3},
		{"streams", slices.Concat(compress(t, data[:200000], "-1"), compress(t, data[200000:], "-2")), data, 3},
		{"empty streams between", slices.Concat(compress(t, small), compress(t, nil), compress(t, small)),
			slices.Concat(small, small), 2},
		{"empty", compress(t, nil), nil, 0},
		// Runs: bzip2's run-length stages fit far more than the block size in a block.
		{"runs", compress(t, make([]byte, 3<<20), "-1"), make([]byte, 3<<20), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, _, err := openHandle(t, tc.file, Options{MaxDepth: 2})
			if err != nil {
				t.Fatal(err)
			}
			x := h.(*handle).index
			if n := len(x.blocks); n < tc.minBlocks || tc.minBlocks == 0 && n != 0 {
				t.Errorf("%d blocks", n)
			}
			size, _ := h.Size(ctx)
			if size != int64(len(tc.want)) {
				t.Fatalf("Size = %d, want %d", size, len(tc.want))
			}
			got := make([]byte, size)
			if err := h.ReadAt(ctx, got, 0, 0); err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("ReadAt: %v, or not the data", err)
			}
			for _, b := range slices.Backward(x.blocks) {
				for _, off := range []int64{b.dataOffset - 3, b.dataOffset + b.dataSize/2, b.dataOffset + b.dataSize - 1} {
					if off < 0 || off >= size {
						continue
					}
					p := make([]byte, min(7, size-off))
					if err := h.ReadAt(ctx, p, off, 0); err != nil || !bytes.Equal(p, tc.want[off:off+int64(len(p))]) {
						t.Errorf("ReadAt(%d bytes at %d): %v, or wrong data", len(p), off, err)
					}
				}
			}
		})
	}
}

// TestChanceMagicNumbers adds candidates inside blocks, as chance matches of the magic
// numbers in compressed data would be, and checks that the index is not fooled.
func TestChanceMagicNumbers(t *testing.T) {
	data := testData(600 << 10)
	file := compress(t, data, "-1")
	ctx := context.Background()
	read := readerOf(file)
	cands, err := findCandidates(ctx, read, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	real := len(cands)
	// One of each kind in the first block, two more in the second.
	fake := []candidate{
		{bit: cands[0].bit + 1001, eos: true},
		{bit: cands[0].bit + 5003},
		{bit: cands[1].bit + 777},
		{bit: cands[1].bit + 90001, eos: true},
	}
	cands = append(cands, fake...)
	slices.SortFunc(cands, func(a, b candidate) int { return int(a.bit - b.bit) })
	levels, err := streamLevels(ctx, read, cands)
	if err != nil {
		t.Fatal(err)
	}
	segments, err := decodeSegments(ctx, read, cands, levels)
	if err != nil {
		t.Fatal(err)
	}
	w := walker{ctx: ctx, read: read, fileSize: int64(len(file)), cands: cands, levels: levels, segments: segments}
	x, err := w.walk()
	if err != nil {
		t.Fatal(err)
	}
	if len(x.blocks) != real-1 || x.dataSize != int64(len(data)) {
		t.Errorf("%d blocks of %d bytes; want %d blocks of %d bytes", len(x.blocks), x.dataSize, real-1, len(data))
	}
	for _, b := range x.blocks {
		got := make([]byte, b.dataSize)
		off, length := b.byteRange()
		if err := decodeBlock(b, file[off:off+length], got); err != nil || !bytes.Equal(got, data[b.dataOffset:b.dataOffset+b.dataSize]) {
			t.Errorf("block at bit %d: %v, or wrong data", b.bit, err)
		}
	}
}

func TestScannerFindsEveryShift(t *testing.T) {
	for shift := range 8 {
		var w bitWriter
		w.write(0x5a, shift)
		w.write(blockMagic, magicBits)
		w.write(0x1234, 13)
		w.write(eosMagic, magicBits)
		var s magicScanner
		got := s.scan(w.b, nil)
		want := []candidate{{bit: int64(shift)}, {bit: int64(shift + magicBits + 13), eos: true}}
		if !slices.Equal(got, want) {
			t.Errorf("shift %d: %v, want %v", shift, got, want)
		}
		// appendBits moves the bits back to a byte boundary.
		moved := appendBits(nil, w.b, int64(shift), magicBits)
		if v := readBits(moved, 0, magicBits); v != blockMagic {
			t.Errorf("shift %d: appendBits gave %x", shift, v)
		}
	}
}

func TestDamagedFiles(t *testing.T) {
	data := testData(400 << 10)
	file := compress(t, data, "-1")
	if _, _, err := openHandle(t, file, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		errno  syscall.Errno
		want   string
	}{
		{"flipped byte in a block", func(b []byte) []byte { b[len(b)/2] ^= 0x08; return b }, syscall.EIO, "does not decode"},
		{"flipped byte in the stream CRC", func(b []byte) []byte { b[len(b)-2] ^= 0x01; return b }, syscall.EIO, "blocks combine to"},
		{"truncated in a block", func(b []byte) []byte { return b[:len(b)*3/4] }, syscall.EIO, "truncated"},
		{"truncated in the end marker", func(b []byte) []byte { return b[:len(b)-3] }, syscall.EIO, "truncated"},
		{"trailing data", func(b []byte) []byte { return append(b, "trailing garbage"...) }, syscall.EINVAL, "after the last bzip2 stream"},
		{"not bzip2", func(b []byte) []byte { return bytes.Repeat([]byte("text "), 100) }, syscall.EINVAL, "not a bzip2 file"},
		{"header only", func(b []byte) []byte { return b[:4] }, syscall.EIO, "truncated"},
	} {
		_, _, err := openHandle(t, tc.damage(bytes.Clone(file)), Options{})
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v and %q", tc.name, err, tc.errno, tc.want)
		}
	}
}

// TestDamageAfterIndexing damages the file once indexed: reads of the damaged block
// fail, and no wrong byte is served.
func TestDamageAfterIndexing(t *testing.T) {
	data := testData(400 << 10)
	file := compress(t, data, "-1")
	h, d, err := openHandle(t, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := h.(*handle).index
	last := x.blocks[len(x.blocks)-1]
	off, length := last.byteRange()
	d.SetBytes([]byte{file[off+length/2] ^ 0x20}, off+length/2)
	ctx := context.Background()
	p := make([]byte, 1000)
	if err := h.ReadAt(ctx, p, x.blocks[0].dataOffset, 0); err != nil || !bytes.Equal(p, data[:1000]) {
		t.Errorf("the first block: %v, or wrong data", err)
	}
	err = h.ReadAt(ctx, p, last.dataOffset, 0)
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "bzip2 block") {
		t.Errorf("the damaged block: %v", err)
	}
}

// TestSameAsGo checks the index's total against Go's own decoder of whole files.
func TestSameAsGo(t *testing.T) {
	data := testData(300 << 10)
	file := slices.Concat(compress(t, data[:100], "-9"), compress(t, data[100:], "-3"))
	whole, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(file)))
	if err != nil || !bytes.Equal(whole, data) {
		t.Fatalf("compress/bzip2 of the whole file: %v", err)
	}
	x, err := buildIndex(context.Background(), readerOf(file), int64(len(file)))
	if err != nil || x.dataSize != int64(len(whole)) {
		t.Errorf("index: %v, %d bytes, want %d", err, x.dataSize, len(whole))
	}
}

func TestWritesRefused(t *testing.T) {
	var h handle
	ctx := context.Background()
	for name, err := range map[string]error{
		"WriteAt": h.WriteAt(ctx, []byte{1}, 0, 0),
		"Trim":    h.Trim(ctx, 0, 1, 0),
		"Zero":    h.Zero(ctx, 0, 1, 0),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s = %v, want EROFS", name, err)
		}
	}
}

func TestCachedReadsAllocateNothing(t *testing.T) {
	h, _, err := openHandle(t, compress(t, testData(100<<10), "-1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := make([]byte, 4096)
	if err := h.ReadAt(ctx, p, 8192, 0); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { h.ReadAt(ctx, p, 8192, 0) }); n != 0 {
		t.Errorf("a read of a cached block allocates %v times", n)
	}
}
