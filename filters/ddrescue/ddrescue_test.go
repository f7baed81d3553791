package ddrescue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

const mapfile = `# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue /dev/sdb disk.img disk.map
# current_pos  current_status  current_pass
0x00003000     +               1
#      pos        size  status
0x00000000  0x00001000  +
0x00001000  0x00001000  -
0x00002000  0x00000800  +
0x00002800  0x00000800  +
0x00003000  0x00001000  ?
0x00004000  0x000FC000  +
`

func TestParseMapfile(t *testing.T) {
	got, err := ParseMapfile(strings.NewReader(mapfile))
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{0, 0x1000}, {0x2000, 0x1000}, {0x4000, 0xFC000}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseMapfile = %v, want %v", got, want)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no status line"},
		{"0x0 + 1 extra\n", "cannot parse the status line"},
		{"0 +\n0x0 0x100 x\n", `line 2: cannot parse "0x0 0x100 x"`},
		{"0 +\nzz 0x100 +\n", "line 2: pos: could not parse number"},
		{"0 +\n0x10 -0x100 +\n", "out of range"},
	} {
		if _, err := ParseMapfile(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMapfile(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestReads(t *testing.T) {
	ctx := context.Background()
	rescued, err := ParseMapfile(strings.NewReader(mapfile))
	if err != nil {
		t.Fatal(err)
	}
	d := servertest.NewDisk(1 << 20)
	d.SetBytes([]byte("rescued"), 0x2000)
	h, err := New(d.Layer(), rescued).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Capabilities(ctx); c.Write || c.Zero || c.Trim {
		t.Errorf("Capabilities = %+v, want read-only", c)
	}
	buf := make([]byte, 7)
	if err := h.ReadAt(ctx, buf, 0x2000, 0); err != nil || string(buf) != "rescued" {
		t.Errorf("a rescued read: %q, %v", buf, err)
	}
	for _, tc := range []struct{ off, length int64 }{
		{0x1000, 1}, {0xfff, 2}, {0x2fff, 2}, {0x3800, 0x1000}, {0, 0x5000},
	} {
		err := h.ReadAt(ctx, make([]byte, tc.length), tc.off, 0)
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("read of %d at %#x: %v, want EIO", tc.length, tc.off, err)
		}
	}
	if err := h.ReadAt(ctx, make([]byte, 0xFC000), 0x4000, 0); err != nil {
		t.Errorf("reading the rescued end: %v", err)
	}
	if err := h.WriteAt(ctx, buf, 0, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("a write reached the read-only plugin: %v", err)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, "missing required parameter ddrescue-mapfile"},
		{[]string{"ddrescue-mapfile=/nonexistent.map"}, "ddrescue-mapfile=/nonexistent.map: open /nonexistent.map"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.params, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	path := filepath.Join(t.TempDir(), "disk.map")
	if err := os.WriteFile(path, []byte(mapfile), 0o644); err != nil {
		t.Fatal(err)
	}
	d := servertest.NewDisk(1 << 20)
	d.SetBytes([]byte{0xaa}, 0)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "ddrescue-mapfile="+path)
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"assert h.is_read_only()",
		"assert h.pread(1, 0) == b'\\xaa'",
		"assert h.pread(4096, 8192) == bytes(4096)",
		"try:\n  h.pread(4096, 4096)\n  assert False, 'reading a bad block succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EIO, e",
	)
	// The export is read-only, which qemu-io must be told (-r).
	if r := servertest.MustRun(t, "qemu-io", "-r", "-f", "raw", "-c", "read 16k 512k", s.URI()); servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io could not read rescued blocks: %s", r)
	}
	if r := servertest.Run(t, "qemu-io", "-r", "-f", "raw", "-c", "read 0 16k", s.URI()); !servertest.QemuIOFailed(r) {
		t.Errorf("qemu-io read unrescued blocks: %s", r)
	}
}
