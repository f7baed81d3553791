package protect

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

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Range
	}{
		{"0-0x1bd", []Range{{0, 445}}},
		{"010-20", []Range{{8, 20}}},
		{"100-", []Range{{100, math.MaxInt64}}},
		{"-100", []Range{{0, 100}}},
		{"-", []Range{{0, math.MaxInt64}}},
		{"5-5", []Range{{5, 5}}},
		{"~100-200", []Range{{0, 99}, {201, math.MaxInt64}}},
		{"~0-200", []Range{{201, math.MaxInt64}}},
		{"~100-", []Range{{0, 99}}},
	} {
		got, err := ParseRange(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"5-2", "invalid range, end < start: 5-2"},
		{"100", "expected START-END"},
		{"a-b", `could not parse number "a"`},
		{"-1-5", "could not parse number"},
	} {
		if _, err := ParseRange(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRange(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	got := merge([]Range{{50, 60}, {0, 10}, {11, 20}, {55, 100}, {200, math.MaxInt64}, {300, 400}})
	want := []Range{{0, 20}, {50, 100}, {200, math.MaxInt64}}
	if !slices.Equal(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
}

func TestProtects(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	d.SetBytes([]byte("protected!"), 100)
	ranges, err := ParseRange("100-109")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(d.Layer(), ranges).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	eperm := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "protected range 100-109") {
			t.Errorf("%s: %v, want EPERM", what, err)
		}
	}
	eperm("a write over the range", h.WriteAt(ctx, []byte("XXXXXXXXXXXXXXXXXXXX"), 95, 0))
	eperm("a write of one byte at the end", h.WriteAt(ctx, []byte("?"), 109, 0))
	eperm("a zero", h.Zero(ctx, 0, 4096, 0))
	eperm("a trim", h.Trim(ctx, 105, 1, 0))
	if got := string(d.Bytes()[95:115]); got != "\x00\x00\x00\x00\x00protected!\x00\x00\x00\x00\x00" {
		t.Errorf("refused requests changed the disk: %q", got)
	}
	if d.Counts().Writes.Load()+d.Counts().Zeros.Load()+d.Counts().Trims.Load() != 0 {
		t.Error("a refused request reached the disk")
	}
	// Writing what is there already, and anything outside, passes.
	for _, err := range []error{
		h.WriteAt(ctx, []byte("XXXXXprotected!XXXXX"), 95, 0),
		h.WriteAt(ctx, []byte("Y"), 99, 0),
		h.WriteAt(ctx, []byte("Y"), 110, 0),
		h.Zero(ctx, 4096, 4096, 0),
		h.Trim(ctx, 200, 100, 0),
	} {
		if err != nil {
			t.Errorf("a request that changes nothing protected: %v", err)
		}
	}
	if got := string(d.Bytes()[95:115]); got != "XXXXYprotected!YXXXX" {
		t.Errorf("the disk holds %q", got)
	}
}

func TestZeroesPassOverZeroes(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	ranges, _ := ParseRange("~4096-8191")
	h, err := New(d.Layer(), ranges).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := h.Zero(ctx, 0, 1<<20, 0); err != nil {
		t.Errorf("zeroing zeroes: %v", err)
	}
	if err := h.WriteAt(ctx, bytes.Repeat([]byte{1}, 4096), 4096, 0); err != nil {
		t.Errorf("writing the unprotected range: %v", err)
	}
	err = h.WriteAt(ctx, bytes.Repeat([]byte{1}, 4097), 4096, 0)
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "8192-") {
		t.Errorf("writing one byte past it: %v", err)
	}
}

func TestBadParameters(t *testing.T) {
	_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{Spec()}, "protect=0-10", "protect=9-3")
	if err == nil || !strings.Contains(err.Error(), "protect=9-3: invalid range, end < start") {
		t.Errorf("protect=9-3: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1 << 20)
	d.SetBytes(bytes.Repeat([]byte{0xee}, 512), 0)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "protect=0-0x1bd", "protect=0x100000-")
	servertest.QemuIO(t, s.URI(), "write -P 0xee 0 512", "write -P 0x33 446 66", "write -P 0x44 4k 4k")
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"try:\n  h.pwrite(b'MBR!', 0)\n  assert False, 'the write succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
		"assert h.pread(4, 0) == b'\\xee' * 4",
	)
	if r := servertest.RunQemuIO(t, s.URI(), "write -P 0 0 4k"); !servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io wrote over the protected range: %s", r)
	}
	want := append(bytes.Repeat([]byte{0xee}, 446), bytes.Repeat([]byte{0x33}, 66)...)
	if got := d.Bytes()[:512]; !bytes.Equal(got, want) {
		t.Error("the protected bytes changed, or the allowed ones did not")
	}
}
