package swab

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// reference swaps the way the manual page draws it: each word reversed.
func reference(p []byte, word int) []byte {
	out := slices.Clone(p)
	for i := 0; i+word <= len(out); i += word {
		slices.Reverse(out[i : i+word])
	}
	return out
}

func counting(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

func TestSwap(t *testing.T) {
	src := counting(64)
	for _, word := range []int64{2, 4, 8} {
		dst := make([]byte, len(src))
		swap(dst, src, word)
		if want := reference(src, int(word)); !bytes.Equal(dst, want) {
			t.Errorf("word %d: %v, want %v", word, dst[:8], want[:8])
		}
		inPlace := slices.Clone(src)
		swap(inPlace, inPlace, word)
		if !bytes.Equal(inPlace, dst) {
			t.Errorf("word %d: swapping in place differs", word)
		}
	}
	if got := reference([]byte{0, 1, 2, 3, 4, 5}, 2); !bytes.Equal(got, []byte{1, 0, 3, 2, 5, 4}) {
		t.Errorf("the reference itself is wrong: %v", got)
	}
}

func openSwab(t *testing.T, d *servertest.Disk, bits int) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	l, err := New(d.Layer(), bits)
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

func TestReadWrite(t *testing.T) {
	ctx := context.Background()
	for _, bits := range []int{8, 16, 32, 64} {
		word := bits / 8
		d := servertest.NewDisk(4099)
		d.SetBytes(counting(4099), 0)
		h := openSwab(t, d, bits)
		if size, _ := h.Size(ctx); size != 4099/int64(word)*int64(word) {
			t.Errorf("%d bits: size %d", bits, size)
		}
		got := make([]byte, 512)
		if err := h.ReadAt(ctx, got, 1024, 0); err != nil {
			t.Fatal(err)
		}
		if want := reference(counting(4099)[1024:1536], word); !bytes.Equal(got, want) {
			t.Errorf("%d bits: read %v, want %v", bits, got[:8], want[:8])
		}
		data := counting(256)
		orig := slices.Clone(data)
		if err := h.WriteAt(ctx, data, 2048, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, orig) {
			t.Errorf("%d bits: the write changed the caller's buffer", bits)
		}
		if want := reference(orig, word); !bytes.Equal(d.Bytes()[2048:2304], want) {
			t.Errorf("%d bits: the disk holds %v, want %v", bits, d.Bytes()[2048:2056], want[:8])
		}
		if bits == 8 {
			continue
		}
		for _, err := range []error{
			h.ReadAt(ctx, got[:word], 1, 0),
			h.WriteAt(ctx, got[:word+1], 0, 0),
			h.Zero(ctx, 0, int64(word)+1, 0),
			h.Trim(ctx, 1, int64(word), 0),
		} {
			if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "not aligned") {
				t.Errorf("%d bits: an unaligned request: %v, want EINVAL", bits, err)
			}
		}
		if err := h.Zero(ctx, 0, int64(word)*2, 0); err != nil || d.Bytes()[word] != 0 {
			t.Errorf("%d bits: an aligned zero: %v", bits, err)
		}
	}
}

func TestBlockSize(t *testing.T) {
	ctx := context.Background()
	h := openSwab(t, servertest.NewDisk(4096), 32)
	bs, err := h.BlockSize(ctx)
	if want := (server.BlockSize{Minimum: 4, Preferred: 512, Maximum: math.MaxUint32}); err != nil || bs != want {
		t.Errorf("BlockSize = %+v, %v; want %+v (as nbdkit)", bs, err, want)
	}
}

func TestBadParameters(t *testing.T) {
	for _, param := range []string{"swab-bits=12", "swab-bits=128", "swab-bits=sixteen"} {
		_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{Spec()}, param)
		if err == nil || !strings.Contains(err.Error(), param) {
			t.Errorf("%s: %v", param, err)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "nbdinfo")
	d := servertest.NewDisk(1<<20 + 3)
	d.SetBytes(counting(1<<20+3), 0)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "swab-bits=32")
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 1 << 20",
		"assert h.get_block_size(nbd.SIZE_MINIMUM) == 4",
		"assert h.pread(8, 0) == bytes([3, 2, 1, 0, 7, 6, 5, 4])",
		"h.pwrite(bytes([0x10, 0x20, 0x30, 0x40]), 4096)",
		"assert h.pread(4, 4096) == bytes([0x10, 0x20, 0x30, 0x40])",
	)
	if got := d.Bytes()[4096:4100]; !bytes.Equal(got, []byte{0x40, 0x30, 0x20, 0x10}) {
		t.Errorf("the disk holds %x, want 40302010", got)
	}
	// qemu-io reads and writes whole sectors: a round trip through the filter.
	servertest.QemuIO(t, s.URI(), "write -P 0x5c 64k 64k", "read -P 0x5c 64k 64k")
}
