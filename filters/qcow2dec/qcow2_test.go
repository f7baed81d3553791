package qcow2dec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// variants are the kinds of image qemu-img makes that the filter must read.
var variants = []struct {
	name string
	opts []string
}{
	{"plain", nil},
	{"zlib", []string{"-c"}},
	{"zstd", []string{"-c", "-o", "compression_type=zstd"}},
	{"v2", []string{"-o", "compat=0.10"}},
	{"v2-zlib", []string{"-c", "-o", "compat=0.10"}},
	{"clusters-512", []string{"-c", "-o", "cluster_size=512"}},
	{"clusters-2M", []string{"-c", "-o", "cluster_size=2M,compression_type=zstd"}},
	{"extended-l2", []string{"-o", "extended_l2=on"}},
	{"extended-l2-zstd", []string{"-c", "-o", "extended_l2=on,compression_type=zstd,cluster_size=128k"}},
}

func TestReadsBackTheSource(t *testing.T) {
	src, want := makeSource(t)
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img, image := convert(t, src, v.opts...)
			h, err := openHandle(t, image)
			if err != nil {
				t.Fatal(err)
			}
			if size, _ := h.Size(ctx); size != sourceSize {
				t.Fatalf("Size = %d, want %d", size, sourceSize)
			}
			got := make([]byte, sourceSize)
			if err := h.ReadAt(ctx, got, 0, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the image does not read back as its source")
			}
			// Unaligned reads across cluster boundaries.
			for _, r := range [][2]int64{{1, 70000}, {65535, 2}, {2<<20 - 7, 300000}, {sourceSize - 4097, 4097}} {
				p := make([]byte, r[1])
				if err := h.ReadAt(ctx, p, r[0], 0); err != nil || !bytes.Equal(p, want[r[0]:r[0]+r[1]]) {
					t.Errorf("ReadAt(%d bytes at %d): %v, or wrong data", r[1], r[0], err)
				}
			}
			e := server.NewExtentList(0, sourceSize)
			if err := h.Extents(ctx, 0, sourceSize, 0, e); err != nil {
				t.Fatal(err)
			}
			if wantExtents := qemuMap(t, img); !slices.Equal(e.Extents(), wantExtents) {
				t.Errorf("Extents = %v\nqemu-img map says %v", e.Extents(), wantExtents)
			}
		})
	}
}

// TestZeroClusters checks clusters and subclusters made zero after allocation, with
// and without their storage.
func TestZeroClusters(t *testing.T) {
	for _, opts := range []string{"extended_l2=off", "extended_l2=on"} {
		t.Run(opts, func(t *testing.T) {
			src, _ := makeSource(t)
			img, _ := convert(t, src, "-o", opts)
			qemuIO(t, img, "write -z 64k 64k", "write -z -u 128k 64k", "write -z 2M 4k", "write -P 7 7M 4k", "write -z -u 7M 4k")
			image, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			want := qemuRead(t, img)
			h, err := openHandle(t, image)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got := make([]byte, sourceSize)
			if err := h.ReadAt(ctx, got, 0, 0); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ReadAt: %v, or not what qemu reads", err)
			}
			e := server.NewExtentList(0, sourceSize)
			if err := h.Extents(ctx, 0, sourceSize, 0, e); err != nil {
				t.Fatal(err)
			}
			if wantExtents := qemuMap(t, img); !slices.Equal(e.Extents(), wantExtents) {
				t.Errorf("Extents = %v\nqemu-img map says %v", e.Extents(), wantExtents)
			}
		})
	}
}

func TestRefusedImages(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	qemuImg(t, "create", "-f", "qcow2", base, "1M")
	overlay := filepath.Join(dir, "overlay.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay)
	encrypted := filepath.Join(dir, "encrypted.qcow2")
	// AES rather than LUKS: making a LUKS header takes seconds of key stretching.
	qemuImg(t, "create", "-f", "qcow2", "--object", "secret,id=sec0,data=password",
		"-o", "encrypt.format=aes,encrypt.key-secret=sec0", encrypted, "1M")
	external := filepath.Join(dir, "external.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "data.raw"), external, "1M")
	raw := filepath.Join(dir, "raw.img")
	if err := os.WriteFile(raw, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		errno syscall.Errno
		want  string
	}{
		{overlay, syscall.ENOTSUP, `has a backing file ("` + base + `")`},
		{encrypted, syscall.EINVAL, "the image is encrypted (AES, crypt_method 1)"},
		{external, syscall.EINVAL, "external data file"},
		{raw, syscall.EINVAL, "not a qcow2 image"},
	} {
		image, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = openHandle(t, image)
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v and %q", filepath.Base(tc.path), err, tc.errno, tc.want)
		}
	}
}

// firstCompressed returns the mapping of the first compressed cluster of image.
func firstCompressed(t *testing.T, image []byte) mapping {
	t.Helper()
	h, err := openHandle(t, image)
	if err != nil {
		t.Fatal(err)
	}
	img := h.(*handle).img
	for off := int64(0); off < img.h.size; off += img.h.clusterSize() {
		m, err := img.lookup(context.Background(), off)
		if err != nil {
			t.Fatal(err)
		}
		if m.kind == compressed {
			return m
		}
	}
	t.Fatal("the image has no compressed cluster")
	return mapping{}
}

func TestCorruptImages(t *testing.T) {
	src, _ := makeSource(t)
	_, zlibImage := convert(t, src, "-c")
	_, zstdImage := convert(t, src, "-c", "-o", "compression_type=zstd")
	_, plainImage := convert(t, src)
	ctx := context.Background()

	readAll := func(image []byte) error {
		h, err := openHandle(t, image)
		if err != nil {
			return err
		}
		return h.ReadAt(ctx, make([]byte, sourceSize), 0, 0)
	}
	for _, tc := range []struct {
		name    string
		image   []byte
		corrupt func(b []byte) []byte
		want    string
	}{
		{"deflate block type", zlibImage, func(b []byte) []byte {
			m := firstCompressed(t, b)
			b[m.host] |= 0x07 // final block of the reserved type 3
			return b
		}, "deflate"},
		{"zstd frame", zstdImage, func(b []byte) []byte {
			m := firstCompressed(t, b)
			b[m.host] ^= 0xff // the frame's magic number
			return b
		}, "zstd"},
		{"zstd cut", zstdImage, func(b []byte) []byte {
			m := firstCompressed(t, b)
			binary.BigEndian.PutUint64(b[m.host:], 0) // the frame header
			return b
		}, "zstd"},
		{"truncated", plainImage, func(b []byte) []byte { return b[:len(b)/2] }, "-byte file"},
		{"truncated compressed", zlibImage, func(b []byte) []byte { return b[:len(b)*2/3] }, "-byte file"},
		{"L1 entry", plainImage, func(b []byte) []byte {
			l1 := binary.BigEndian.Uint64(b[40:])
			b[l1+7] |= 0x10 // an unaligned L2 table offset
			return b
		}, "reserved bits"},
	} {
		err := readAll(tc.corrupt(bytes.Clone(tc.image)))
		if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "corrupt qcow2 image") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// A damaged header is refused at once.
	for _, off := range []int{0, 5, 23} {
		b := bytes.Clone(plainImage)
		b[off] ^= 0x55
		if _, err := openHandle(t, b); err == nil {
			t.Errorf("a flipped byte at %d of the header went unnoticed", off)
		}
	}
}

func TestHeaderChecks(t *testing.T) {
	good := make([]byte, 112)
	copy(good, magic)
	be := binary.BigEndian
	be.PutUint32(good[4:], 3)
	be.PutUint32(good[20:], 16)
	be.PutUint64(good[24:], 1<<30)
	be.PutUint32(good[36:], 2)
	be.PutUint64(good[40:], 3<<16)
	be.PutUint32(good[96:], 4)
	be.PutUint32(good[100:], 112)
	if _, err := parseHeader(good, 1<<20); err != nil {
		t.Fatalf("a good header: %v", err)
	}
	for _, tc := range []struct {
		change func(b []byte)
		want   string
	}{
		{func(b []byte) { be.PutUint32(b[4:], 4) }, "qcow2 version 4 is not supported"},
		{func(b []byte) { be.PutUint32(b[20:], 8) }, "cluster_bits 8 is out of range"},
		{func(b []byte) { be.PutUint32(b[20:], 22) }, "cluster_bits 22 is out of range"},
		{func(b []byte) { be.PutUint32(b[36:], 1) }, "too small for a virtual size"},
		{func(b []byte) { be.PutUint64(b[40:], 3<<16+8) }, "not aligned to a cluster"},
		{func(b []byte) { be.PutUint64(b[40:], 1<<20) }, "outside the"},
		{func(b []byte) { be.PutUint64(b[72:], 1<<5) }, "incompatible features this filter does not know (bits 5)"},
		{func(b []byte) { be.PutUint64(b[72:], 1<<3); b[104] = 2 }, "unknown compression type 2"},
		{func(b []byte) { be.PutUint64(b[72:], 1<<4); be.PutUint32(b[20:], 12) }, "extended L2 entries need clusters of at least 16 KiB"},
		{func(b []byte) { be.PutUint32(b[32:], 1) }, "encrypted (AES"},
		{func(b []byte) { be.PutUint32(b[32:], 2) }, "encrypted (LUKS"},
	} {
		b := bytes.Clone(good)
		tc.change(b)
		if _, err := parseHeader(b, 1<<20); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
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

func TestReadsAllocateNothing(t *testing.T) {
	src, _ := makeSource(t)
	ctx := context.Background()
	for _, opts := range [][]string{nil, {"-c"}} {
		_, image := convert(t, src, opts...)
		h, err := openHandle(t, image)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 4096)
		for _, off := range []int64{8192, 2<<20 + 4096, 1<<20 + 8192} { // data, compressible data, a hole
			if err := h.ReadAt(ctx, p, off, 0); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { h.ReadAt(ctx, p, off, 0) }); n != 0 {
				t.Errorf("%q: a read at %d allocates %v times", opts, off, n)
			}
		}
	}
}
