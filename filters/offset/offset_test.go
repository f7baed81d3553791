package offset_test

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

	"github.com/gonbd/gonbd/filters/offset"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func openOffset(t *testing.T, d *servertest.Disk, opts offset.Options) (server.LayerHandle, error) {
	t.Helper()
	ctx := context.Background()
	l, err := offset.New(d.Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return h, h.Prepare(ctx, false)
}

func TestShiftsEveryOperation(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	h, err := openOffset(t, d, offset.Options{Offset: 10000, Range: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := h.Size(ctx); size != 20000 {
		t.Errorf("Size = %d, want 20000", size)
	}
	if err := h.WriteAt(ctx, []byte("hello"), 5, 0); err != nil {
		t.Fatal(err)
	}
	if got := string(d.Bytes()[10005:10010]); got != "hello" {
		t.Errorf("the disk holds %q at 10005, want hello", got)
	}
	buf := make([]byte, 5)
	if err := h.ReadAt(ctx, buf, 5, 0); err != nil || string(buf) != "hello" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	d.SetBytes(bytes.Repeat([]byte{9}, 8192), 20480)
	if err := h.Zero(ctx, 10480, 4096, 0); err != nil { // the disk's 20480..24576
		t.Fatal(err)
	}
	if err := h.Trim(ctx, 14576, 100, 0); err != nil { // the disk's 24576..24676
		t.Fatal(err)
	}
	want := append(make([]byte, 4096+100), bytes.Repeat([]byte{9}, 4096-100)...)
	if got := d.Bytes()[20480:28672]; !bytes.Equal(got, want) {
		t.Error("zero and trim did not land at the shifted offsets")
	}
	// Extents: the disk's allocated blocks are 8192..12288 (hello) and 24576..28672;
	// shifted, with the served range's ends clipped.
	e := server.NewExtentList(0, 20000)
	if err := h.Extents(ctx, 0, 20000, 0, e); err != nil {
		t.Fatal(err)
	}
	hz := server.ExtentHole | server.ExtentZero
	wantExtents := []server.Extent{
		{Offset: 0, Length: 2288, Type: server.ExtentData}, // 10000..12288
		{Offset: 2288, Length: 12288, Type: hz},            // ..24576
		{Offset: 14576, Length: 4096, Type: server.ExtentData},
		{Offset: 18672, Length: 1328, Type: hz},
	}
	if !slices.Equal(e.Extents(), wantExtents) {
		t.Errorf("Extents = %v, want %v", e.Extents(), wantExtents)
	}
	if err := h.Cache(ctx, 0, 20000, 0); err != nil || d.Counts().Caches.Load() != 1 {
		t.Errorf("Cache = %v, %d caches at the disk", err, d.Counts().Caches.Load())
	}
}

func TestRangeToTheEnd(t *testing.T) {
	ctx := context.Background()
	h, err := openOffset(t, servertest.NewDisk(64<<10), offset.Options{Offset: 1000, Range: -1})
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := h.Size(ctx); size != 64<<10-1000 {
		t.Errorf("Size = %d, want %d", size, 64<<10-1000)
	}
	h, err = openOffset(t, servertest.NewDisk(64<<10), offset.Options{Offset: 64 << 10, Range: -1})
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := h.Size(ctx); size != 0 {
		t.Errorf("Size = %d, want 0", size)
	}
}

func TestOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		opts offset.Options
		want string
	}{
		{offset.Options{Offset: 1 << 20, Range: 1}, "offset+range (1048576+1) is larger than the real size (1048576)"},
		{offset.Options{Offset: 1, Range: 1 << 20}, "offset+range (1+1048576) is larger"},
		{offset.Options{Offset: 2 << 20, Range: -1}, "offset (2097152) is larger than the real size (1048576)"},
	} {
		_, err := openOffset(t, servertest.NewDisk(1<<20), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%+v: Prepare = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"offset=-1", `offset=-1: size "-1" is negative`},
		{"range=lots", "range=lots: could not parse size"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{offset.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "nbdinfo")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{offset.Spec()}, "offset=128k", "range=512k")
	servertest.QemuIO(t, s.URI(), "write -P 0xcc 0 4k", "write -P 0xdd 508k 4k", "read -P 0xcc 0 4k")
	want := make([]byte, 1<<20)
	copy(want[128<<10:], bytes.Repeat([]byte{0xcc}, 4096))
	copy(want[636<<10:], bytes.Repeat([]byte{0xdd}, 4096))
	if !bytes.Equal(d.Bytes(), want) {
		t.Error("the disk does not hold what qemu-io wrote at the shifted offsets")
	}
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 512 * 1024",
		"e = []",
		"h.block_status(512 * 1024, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [4096, 0, 512 * 1024 - 8192, 3, 4096, 0], e",
	)
	// Past the end of the plugin: the client is refused.
	bad := servertest.StartStack(t, d.Spec(), []server.FilterSpec{offset.Spec()}, "offset=1M", "range=1")
	if r := servertest.Run(t, "nbdinfo", "--size", bad.URI()); r.Code == 0 {
		t.Errorf("nbdinfo on an offset past the end succeeded: %s", r)
	}
	if !strings.Contains(bad.Log.String(), "is larger than the real size") {
		t.Errorf("the server did not log why:\n%s", bad.Log.String())
	}
}

// TestSameAsNbdkit applies the same writes through nbdkit's offset filter (over its
// memory plugin) and through this one, and compares what the clients read back.
func TestSameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdsh")
	sock := filepath.Join(t.TempDir(), "nbdkit.sock")
	cmd := exec.Command("nbdkit", "-f", "-U", sock, "--filter=offset", "memory", "1M", "offset=100000", "range=300000")
	cmd.Env = servertest.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	nbdkitURI := "nbd+unix:///?socket=" + sock
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if servertest.Run(t, "nbdinfo", "--size", nbdkitURI).Code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nbdkit did not start")
		}
	}
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{offset.Spec()}, "offset=100000", "range=300000")
	script := []string{
		"h.pwrite(b'\\x11' * 5000, 1000)",
		"h.pwrite(b'\\x22' * 70000, 200000)",
		"h.zero(3000, 201000)",
		"print(h.get_size(), hashlib.sha256(h.pread(300000, 0)).hexdigest())",
	}
	var out []string
	for _, uri := range []string{nbdkitURI, s.URI()} {
		r := servertest.Nbdsh(t, uri, append([]string{"import hashlib"}, script...)...)
		out = append(out, r.Stdout)
	}
	if out[0] != out[1] {
		t.Errorf("nbdkit says %q, gonbd %q", out[0], out[1])
	}
}
