package lzip

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// testData returns size bytes that are partly random and partly compressible.
func testData(size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	for i := 0; i < size; i += 64 << 10 {
		for j := i; j < min(i+40<<10, size); j++ {
			b[j] &= 0x07
		}
	}
	return b
}

// compress runs lzip with args on data and returns the compressed file.
func compress(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("lzip"); err != nil {
		t.Skip("lzip is not installed")
	}
	cmd := exec.Command("lzip", append([]string{"-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lzip %q: %v\n%s", args, err, &stderr)
	}
	return out.Bytes()
}

// openHandle opens the filter with opts over a disk holding file.
func openHandle(t testing.TB, file []byte, opts Options) (server.LayerHandle, error) {
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
	return h, h.Prepare(ctx, true)
}

func TestReadsBack(t *testing.T) {
	data := testData(600<<10 + 12345)
	small := testData(1000)
	for _, tc := range []struct {
		name    string
		file    []byte
		want    []byte
		members int
	}{
		{"one member", compress(t, data, "-3"), data, 1},
		{"members of 100 KiB", compress(t, data, "-0", "-b", "100KiB"), data, 0},
		{"concatenated", append(compress(t, data[:1<<18], "-0"), compress(t, data[1<<18:], "-1")...), data, 2},
		{"empty member between", append(append(compress(t, small), compress(t, nil)...), compress(t, small)...),
			append(bytes.Clone(small), small...), 3},
		{"empty", compress(t, nil), nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := openHandle(t, tc.file, Options{MaxDepth: 2})
			if err != nil {
				t.Fatal(err)
			}
			x := h.(*handle).index
			if tc.members > 0 && len(x.members) != tc.members || tc.members == 0 && len(x.members) < 4 {
				t.Errorf("%d members", len(x.members))
			}
			size, _ := h.Size(ctx)
			if size != int64(len(tc.want)) {
				t.Fatalf("Size = %d, want %d", size, len(tc.want))
			}
			got := make([]byte, size)
			if err := h.ReadAt(ctx, got, 0, 0); err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("ReadAt: %v, or not the data", err)
			}
			// Reads at member boundaries, and within members, in any order.
			for _, m := range x.members {
				for _, off := range []int64{m.dataOffset - 3, m.dataOffset + m.dataSize/2, m.dataOffset + m.dataSize - 1} {
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

func TestConcurrentReads(t *testing.T) {
	data := testData(1 << 20)
	h, err := openHandle(t, compress(t, data, "-0", "-b", "100KiB"), Options{MaxDepth: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 10000)
			for i := range 20 {
				off := int64((g*7919 + i*104729) % (len(data) - len(p)))
				if err := h.ReadAt(context.Background(), p, off, 0); err != nil || !bytes.Equal(p, data[off:off+int64(len(p))]) {
					t.Errorf("ReadAt(%d): %v, or wrong data", off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDamagedFiles(t *testing.T) {
	data := testData(400 << 10)
	file := compress(t, data, "-0", "-b", "100KiB")
	ctx := context.Background()
	readAll := func(file []byte) error {
		h, err := openHandle(t, file, Options{})
		if err != nil {
			return err
		}
		size, _ := h.Size(ctx)
		return h.ReadAt(ctx, make([]byte, size), 0, 0)
	}
	if err := readAll(file); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		errno  syscall.Errno
		want   string
	}{
		{"flipped byte in the stream", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }, syscall.EIO, "lzip member"},
		{"flipped byte in a CRC", func(b []byte) []byte { b[len(b)-20] ^= 0x80; return b }, syscall.EIO, "CRC32 mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1000] }, syscall.EINVAL, "truncated"},
		{"trailing data", func(b []byte) []byte { return append(b, "garbage after the last member"...) }, syscall.EINVAL, "data after its last member"},
		{"flipped byte in a header", func(b []byte) []byte { b[1] = 'X'; return b }, syscall.EINVAL, "no LZIP magic"},
		{"version 0", func(b []byte) []byte { b[4] = 0; return b }, syscall.EINVAL, "lzip version 0"},
		{"not lzip", func(b []byte) []byte { return bytes.Repeat([]byte("text "), 100) }, syscall.EINVAL, "not an lzip file"},
	} {
		err := readAll(tc.damage(bytes.Clone(file)))
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v and %q", tc.name, err, tc.errno, tc.want)
		}
	}
}

func TestMaxBlock(t *testing.T) {
	file := compress(t, testData(300<<10), "-0", "-b", "100KiB")
	if _, err := openHandle(t, file, Options{MaxBlock: 1 << 20}); err != nil {
		t.Errorf("members under the limit: %v", err)
	}
	_, err := openHandle(t, compress(t, testData(300<<10)), Options{MaxBlock: 200 << 10})
	if err == nil || !strings.Contains(err.Error(), "more than the limit of 204800 (lzip-max-block)") {
		t.Errorf("a member over the limit: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	for code, want := range map[byte]uint32{0x0c: 4096, 0x14: 1 << 20, 0x1d: 1 << 29, 0x35: 1<<21 - 1<<21/16*1, 0xf7: 1<<23 - 1<<23/16*7} {
		if got, err := parseHeader([]byte{'L', 'Z', 'I', 'P', 1, code}); err != nil || got != want {
			t.Errorf("code %#x: %d, %v; want %d", code, got, err, want)
		}
	}
	for _, code := range []byte{0x0b, 0x1e, 0x2c} {
		if _, err := parseHeader([]byte{'L', 'Z', 'I', 'P', 1, code}); err == nil {
			t.Errorf("code %#x accepted", code)
		}
	}
}

// TestWithLzipTool checks the index against what lzip -l says, on a file on disk.
func TestWithLzipTool(t *testing.T) {
	data := testData(1 << 20)
	path := filepath.Join(t.TempDir(), "data.lz")
	if err := os.WriteFile(path, compress(t, data, "-0", "-b", "100KiB"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("lzip", "-l", "-v", path).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	h, err := openHandle(t, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// lzip -l -v prints a title line, then: dict (two fields) members trailing uncompressed...
	fields := strings.Fields(strings.Split(string(out), "\n")[1])
	x := h.(*handle).index
	if fields[2] != strconv.Itoa(len(x.members)) || fields[4] != strconv.FormatInt(x.dataSize, 10) {
		t.Errorf("%d members, %d bytes; lzip -l says:\n%s", len(x.members), x.dataSize, out)
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
	h, err := openHandle(t, compress(t, testData(100<<10), "-0"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := make([]byte, 4096)
	if err := h.ReadAt(ctx, p, 8192, 0); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { h.ReadAt(ctx, p, 8192, 0) }); n != 0 {
		t.Errorf("a read of a cached member allocates %v times", n)
	}
}
