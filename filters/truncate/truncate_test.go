package truncate_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/truncate"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func openTruncate(t *testing.T, d *servertest.Disk, opts truncate.Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	l, err := truncate.New(d.Layer(), opts)
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

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		real int64
		opts truncate.Options
		want int64
	}{
		{1000, truncate.Options{Truncate: -1}, 1000},
		{1000, truncate.Options{Truncate: 600}, 600},
		{1000, truncate.Options{Truncate: 5000}, 5000},
		{1000, truncate.Options{Truncate: -1, RoundUp: 512}, 1024},
		{1024, truncate.Options{Truncate: -1, RoundUp: 512}, 1024},
		{1000, truncate.Options{Truncate: -1, RoundDown: 512}, 512},
		{1000, truncate.Options{Truncate: 3000, RoundUp: 1024}, 3072},
		{1000, truncate.Options{Truncate: 0, RoundUp: 1024}, 0},
	} {
		h := openTruncate(t, servertest.NewDisk(tc.real), tc.opts)
		if got, _ := h.Size(context.Background()); got != tc.want {
			t.Errorf("%d bytes with %+v: size %d, want %d", tc.real, tc.opts, got, tc.want)
		}
	}
}

func TestLarger(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(10000)
	d.SetBytes(bytes.Repeat([]byte{5}, 10000), 0)
	h := openTruncate(t, d, truncate.Options{Truncate: 20000})

	buf := make([]byte, 2000)
	for i := range buf {
		buf[i] = 0xff // must be overwritten
	}
	if err := h.ReadAt(ctx, buf, 9000, 0); err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Repeat([]byte{5}, 1000), make([]byte, 1000)...); !bytes.Equal(buf, want) {
		t.Error("a read across the plugin's end is not its bytes then zeroes")
	}
	// Zeroes may be written past the end; anything else is ENOSPC, and nothing is
	// written, not even the part within the plugin.
	if err := h.WriteAt(ctx, append(bytes.Repeat([]byte{6}, 1000), make([]byte, 1000)...), 9000, 0); err != nil {
		t.Errorf("writing zeroes past the end: %v", err)
	}
	if err := h.WriteAt(ctx, []byte{7, 7}, 9999, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("writing non-zeroes past the end: %v, want ENOSPC", err)
	}
	if err := h.WriteAt(ctx, []byte{7}, 15000, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("writing non-zeroes past the end: %v, want ENOSPC", err)
	}
	if got := d.Bytes()[8999:]; got[0] != 5 || !bytes.Equal(got[1:], bytes.Repeat([]byte{6}, 1000)) {
		t.Errorf("the disk's tail is %v...%v", got[:3], got[len(got)-3:])
	}
	// Trim, zero and cache past the end are done (nothing to do); the part within
	// the plugin reaches it.
	for _, op := range []func() error{
		func() error { return h.Zero(ctx, 9500, 10500, 0) },
		func() error { return h.Trim(ctx, 12000, 8000, 0) },
		func() error { return h.Cache(ctx, 0, 20000, 0) },
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	if c := d.Counts(); c.Zeros.Load() != 1 || c.Trims.Load() != 0 || c.Caches.Load() != 1 {
		t.Errorf("zeroes %d, trims %d, caches %d at the disk; want 1, 0, 1", c.Zeros.Load(), c.Trims.Load(), c.Caches.Load())
	}
	if got := d.Bytes()[9499:]; got[0] != 6 || !bytes.Equal(got[1:], make([]byte, 500)) {
		t.Error("the zero did not reach the disk")
	}

	hz := server.ExtentHole | server.ExtentZero
	for _, tc := range []struct {
		off, length int64
		want        []server.Extent
	}{
		{0, 20000, []server.Extent{{Offset: 0, Length: 10000, Type: server.ExtentData}, {Offset: 10000, Length: 10000, Type: hz}}},
		{12000, 100, []server.Extent{{Offset: 12000, Length: 100, Type: hz}}},
		{5000, 1000, []server.Extent{{Offset: 5000, Length: 1000, Type: server.ExtentData}}},
	} {
		e := server.NewExtentList(tc.off, tc.off+tc.length)
		if err := h.Extents(ctx, tc.off, tc.length, 0, e); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e.Extents(), tc.want) {
			t.Errorf("Extents(%d, %d) = %v, want %v", tc.off, tc.length, e.Extents(), tc.want)
		}
	}
}

func TestSmaller(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(10000)
	h := openTruncate(t, d, truncate.Options{Truncate: 5000})
	if err := h.WriteAt(ctx, bytes.Repeat([]byte{1}, 1000), 4000, 0); err != nil {
		t.Fatal(err)
	}
	if got := d.Bytes(); !bytes.Equal(got[4000:5000], bytes.Repeat([]byte{1}, 1000)) || got[5000] != 0 {
		t.Error("the write did not land within the truncated plugin")
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"round-up=3", "round-up=3: the round-up parameter must be a power of 2"},
		{"round-down=1000", "round-down=1000: the round-down parameter must be a power of 2"},
		{"truncate=big", "truncate=big: could not parse size"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{truncate.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1000)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{truncate.Spec()}, "round-up=4k")
	servertest.QemuIO(t, s.URI(), "write -P 0xab 0 512", "read -P 0xab 0 512", "read -P 0 1000 3096", "write -z 512 3584")
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"assert h.get_size() == 4096",
		"h.pwrite(bytes(96), 4000)",
		"try:\n  h.pwrite(b'x', 4000)\n  assert False, 'a write past the end succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.ENOSPC, e",
		"e = []",
		"h.block_status(4096, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [1000, 0, 3096, 3], e",
	)
	if got := d.Bytes(); !bytes.Equal(got[:512], bytes.Repeat([]byte{0xab}, 512)) || !bytes.Equal(got[512:], make([]byte, 488)) {
		t.Error("the disk does not hold what qemu-io wrote")
	}
}

// TestSameAsNbdkit does the same through nbdkit's truncate filter over its memory plugin
// and through this one, and compares what nbdsh sees.
func TestSameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdsh")
	args := []string{"truncate=5000", "round-up=1024"}
	sock := filepath.Join(t.TempDir(), "nbdkit.sock")
	cmd := exec.Command("nbdkit", append([]string{"-f", "-U", sock, "--filter=truncate", "memory", "3000"}, args...)...)
	cmd.Env = servertest.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	nbdkitURI := "nbd+unix:///?socket=" + sock
	for deadline := time.Now().Add(10 * time.Second); servertest.Run(t, "nbdsh", "-u", nbdkitURI, "-c", "pass").Code != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nbdkit did not start")
		}
	}
	s := servertest.StartStack(t, servertest.NewDisk(3000).Spec(), []server.FilterSpec{truncate.Spec()}, args...)
	script := []string{
		"import hashlib",
		"h.pwrite(b'\\x11' * 1000, 2000)",
		"h.pwrite(bytes(1000), 4000)",
		"h.zero(100, 2900)",
		"try:\n  h.pwrite(b'\\x01', 3500)\nexcept nbd.Error as e:\n  print(e.errnum)",
		"print(h.get_size(), hashlib.sha256(h.pread(h.get_size(), 0)).hexdigest())",
	}
	nbdkitOut := servertest.Nbdsh(t, nbdkitURI, script...).Stdout
	if ours := servertest.Nbdsh(t, s.URI(), script...).Stdout; ours != nbdkitOut {
		t.Errorf("nbdkit says %q, gonbd %q", nbdkitOut, ours)
	}
}
