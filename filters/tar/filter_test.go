package tar_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/tar"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// entryName is longer than a header's name field, so that pax and GNU archives store
// it in an extra header.
var entryName = "vm/" + strings.Repeat("long-directory-name-", 5) + "/disk-image-with-a-long-name.img"

// archive is a tar archive made by GNU tar and the contents of its members.
type archive struct {
	path    string
	bytes   []byte
	members map[string][]byte
}

func makeArchive(t testing.TB, format string, sizes map[string]int) archive {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar is not installed")
	}
	src := t.TempDir()
	a := archive{members: map[string][]byte{}}
	var names []string
	for name, size := range sizes {
		data := make([]byte, size)
		rand.Read(data)
		a.members[name] = data
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	a.path = filepath.Join(t.TempDir(), "archive.tar")
	cmd := exec.Command("tar", append([]string{"--format=" + format, "-cf", a.path}, names...)...)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	var err error
	if a.bytes, err = os.ReadFile(a.path); err != nil {
		t.Fatal(err)
	}
	return a
}

// diskOf returns a servertest disk holding b.
func diskOf(b []byte) *servertest.Disk {
	d := servertest.NewDisk(int64(len(b)))
	d.SetBytes(b, 0)
	return d
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-io", "nbdsh", "tar")
	for _, format := range []string{"gnu", "ustar", "pax"} {
		t.Run(format, func(t *testing.T) {
			name := entryName
			if format == "ustar" {
				name = "vm/disk.img" // ustar cannot store entryName's 81-byte file name part
			}
			a := makeArchive(t, format, map[string]int{"a-first.txt": 1000, name: 3<<20 + 1000, "z-last.bin": 70000})
			d := diskOf(a.bytes)
			s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{tar.Spec()}, "tar-entry="+name)

			// Copy the whole member out (nbdcopy, since qemu-img would round the size
			// up to whole sectors), and read at random places.
			dir := t.TempDir()
			out := filepath.Join(dir, "out.img")
			servertest.MustRun(t, "nbdcopy", s.URI(), out)
			if sum, _ := servertest.FileSHA256(t, out); sum != servertest.SHA256(a.members[name]) {
				t.Fatal("the member copied out through the filter differs from the original")
			}
			servertest.Nbdsh(t, s.URI(),
				"import random",
				"want = open('"+out+"', 'rb').read()",
				"assert h.get_size() == len(want) == 3 * 2**20 + 1000",
				"rng = random.Random(1)",
				"for n in range(200):\n"+
					"  off = rng.randrange(len(want)); cnt = rng.randint(1, min(70000, len(want) - off))\n"+
					"  assert h.pread(cnt, off) == want[off:off+cnt], (off, cnt)",
			)

			// Write through the filter, then unpack the archive with GNU tar: the
			// member has changed where it was written, and nothing else has.
			servertest.QemuIO(t, s.URI(), "write -P 0x5a 1000 5000", "write -P 0xa5 3145728 1000", "flush")
			want := bytes.Clone(a.members[name])
			copy(want[1000:6000], bytes.Repeat([]byte{0x5a}, 5000))
			copy(want[3<<20:], bytes.Repeat([]byte{0xa5}, 1000))
			unpacked := filepath.Join(dir, "unpacked")
			if err := os.Mkdir(unpacked, 0o755); err != nil {
				t.Fatal(err)
			}
			written := filepath.Join(dir, "written.tar")
			if err := os.WriteFile(written, d.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			servertest.MustRun(t, "tar", "-xf", written, "-C", unpacked)
			for member, data := range a.members {
				if member == name {
					data = want
				}
				got, err := os.ReadFile(filepath.Join(unpacked, member))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("%s unpacked from the written archive is not as expected", member)
				}
			}
		})
	}
}

func TestMissingEntry(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "tar")
	a := makeArchive(t, "gnu", map[string]int{"disk.img": 4096})
	s := servertest.StartStack(t, diskOf(a.bytes).Spec(), []server.FilterSpec{tar.Spec()}, "tar-entry=disk.iso")
	if r := servertest.Run(t, "nbdinfo", s.URI()); r.Code == 0 {
		t.Errorf("nbdinfo opened a missing entry: %s", r)
	}
	if log := s.Log.String(); !strings.Contains(log, `tar-entry \"disk.iso\": no such entry in the tar archive`) {
		t.Errorf("the log does not say the entry is missing:\n%s", log)
	}
}

func TestReadOnlyPlugin(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "tar")
	a := makeArchive(t, "pax", map[string]int{"disk.img": 8192})
	d := diskOf(a.bytes)
	d.ReadOnly = true
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{tar.Spec()}, "tar-entry=disk.img")
	servertest.Nbdsh(t, s.URI(), "assert h.is_read_only()", "assert h.get_size() == 8192")
}

func TestHandleShiftsEveryOperation(t *testing.T) {
	ctx := context.Background()
	a := makeArchive(t, "gnu", map[string]int{"a.bin": 5000, "disk.img": 64 << 10})
	d := diskOf(a.bytes)
	l, err := tar.New(d.Layer(), tar.Options{Entry: "disk.img"})
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
	if size, _ := h.Size(ctx); size != 64<<10 {
		t.Fatalf("Size = %d", size)
	}
	start := int64(bytes.Index(a.bytes, a.members["disk.img"][:64]))
	if start <= 0 {
		t.Fatal("the member's data is not in the archive")
	}
	if err := h.WriteAt(ctx, []byte("hello"), 10, 0); err != nil {
		t.Fatal(err)
	}
	if got := d.Bytes()[start+10 : start+15]; string(got) != "hello" {
		t.Errorf("the archive holds %q where the write should be", got)
	}
	// Trim the member's whole 4 KiB blocks of the disk from its 12 KiB on: the disk
	// frees them, and the filter reports them as holes at the member's offsets.
	if err := h.Trim(ctx, 12<<10, 64<<10-12<<10, 0); err != nil {
		t.Fatal(err)
	}
	e := server.NewExtentList(0, 64<<10)
	if err := h.Extents(ctx, 0, 64<<10, 0, e); err != nil {
		t.Fatal(err)
	}
	var want []server.Extent
	add := func(off, length int64, typ server.ExtentType) {
		if n := len(want); n > 0 && want[n-1].Type == typ {
			want[n-1].Length += length
			return
		}
		want = append(want, server.Extent{Offset: off, Length: length, Type: typ})
	}
	for off := int64(0); off < 64<<10; {
		next := min((start+off)/4096*4096+4096-start, 64<<10)
		typ := server.ExtentHole | server.ExtentZero
		if d.Allocated(start + off) {
			typ = server.ExtentData
		}
		add(off, next-off, typ)
		off = next
	}
	if !slices.Equal(e.Extents(), want) || len(want) < 2 {
		t.Errorf("Extents = %v, want %v", e.Extents(), want)
	}
	buf := make([]byte, 64<<10-12<<10)
	if err := h.ReadAt(ctx, buf, 12<<10, 0); err != nil || !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Errorf("the trimmed range does not read as zeroes: %v", err)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, "missing required parameter tar-entry"},
		{[]string{"tar-entry="}, "tar-entry must not be empty"},
		{[]string{"tar-entry=a", "tar-limit=lots"}, `tar-limit=lots: could not parse size`},
		{[]string{"tar-entry=a", "tar-limit=-1"}, `tar-limit=-1: size "-1" is negative`},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{tar.Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.params, err, tc.want)
		}
	}
	// tar= names nbdkit's tar program, which gonbd does not need: accepted, unused.
	if _, err := servertest.Stack(spec, []server.FilterSpec{tar.Spec()}, "tar-entry=a", "tar=/usr/bin/gtar"); err != nil {
		t.Errorf("tar=: %v", err)
	}
}

func TestLimit(t *testing.T) {
	a := makeArchive(t, "gnu", map[string]int{"a.img": 100 << 10, "b.img": 4096})
	for _, tc := range []struct {
		limit string
		found bool
	}{{"0", true}, {"200k", true}, {"100k", false}} {
		l, err := servertest.Stack(diskOf(a.bytes).Spec(), []server.FilterSpec{tar.Spec()}, "tar-entry=b.img", "tar-limit="+tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		h, err := l.Open(context.Background(), server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		err = h.Prepare(context.Background(), false)
		if tc.found != (err == nil) || !tc.found && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("tar-limit=%s: %v", tc.limit, err)
		}
	}
}

// TestSameAsNbdkit serves the same archive with nbdkit's tar filter and this one and
// compares what a client reads. The name is short: nbdkit 1.32 serves the wrong bytes
// for a member whose name needs a GNU long-name header (it takes the block number GNU
// tar lists, that of the long-name header, for that of the member's own header).
func TestSameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdsh", "tar")
	const entryName = "vm/disk.img"
	a := makeArchive(t, "gnu", map[string]int{"first.bin": 3000, entryName: 1<<20 + 777, "z.bin": 10000})
	sock := filepath.Join(t.TempDir(), "nbdkit.sock")
	cmd := exec.Command("nbdkit", "-f", "-r", "-U", sock, "--filter=tar", "file", a.path, "tar-entry="+entryName)
	cmd.Env = servertest.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	nbdkitURI := "nbd+unix:///?socket=" + sock
	for deadline := time.Now().Add(10 * time.Second); servertest.Run(t, "nbdinfo", "--size", nbdkitURI).Code != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nbdkit did not start")
		}
	}
	s := servertest.StartStack(t, diskOf(a.bytes).Spec(), []server.FilterSpec{tar.Spec()}, "tar-entry="+entryName)
	script := "import hashlib; print(h.get_size(), hashlib.sha256(h.pread(h.get_size(), 0)).hexdigest())"
	theirs := servertest.Nbdsh(t, nbdkitURI, script).Stdout
	ours := servertest.Nbdsh(t, s.URI(), script).Stdout
	if theirs != ours {
		t.Errorf("nbdkit says %q, gonbd %q", theirs, ours)
	}
}

func BenchmarkRandomRead4K(b *testing.B) {
	a := makeArchive(b, "pax", map[string]int{"a.bin": 5000, "disk.img": 64 << 20})
	l, err := tar.New(diskOf(a.bytes).Layer(), tar.Options{Entry: "disk.img"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Prepare(ctx, true); err != nil {
		b.Fatal(err)
	}
	offsets := make([]int64, 1024)
	for i := range offsets {
		n, _ := rand.Int(rand.Reader, big.NewInt(64<<20/4096))
		offsets[i] = n.Int64() * 4096
	}
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.ReadAt(ctx, buf, offsets[i%len(offsets)], 0); err != nil {
			b.Fatal(err)
		}
	}
}
