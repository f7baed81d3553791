package tar

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// longName is a member path longer than the 100 bytes of a header's name field, with a
// directory part short enough for a ustar prefix (155 bytes).
var longName = "images/" + strings.Repeat("d", 90) + "/" + strings.Repeat("n", 95) + ".img"

// testMembers are the files the test archives hold, by name.
type testMembers map[string][]byte

// makeTree writes members into a new directory and returns it.
func makeTree(t testing.TB, members testMembers) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range members {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gnuTar runs GNU tar in dir with args.
func gnuTar(t testing.TB, dir string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar is not installed")
	}
	cmd := exec.Command("tar", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar %q: %v\n%s", args, err, out)
	}
}

// makeArchive makes an archive of members in format with GNU tar and returns its path.
func makeArchive(t testing.TB, format string, members testMembers, names ...string) string {
	t.Helper()
	dir := makeTree(t, members)
	archive := filepath.Join(t.TempDir(), "test.tar")
	gnuTar(t, dir, append([]string{"--format=" + format, "-cf", archive}, names...)...)
	return archive
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// find opens path and looks for name in it.
func find(t *testing.T, path, name string, limit int64) (member, []byte, error) {
	t.Helper()
	archive, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := scanner{r: bytes.NewReader(archive), size: int64(len(archive)), limit: limit}
	m, err := s.findMember(name)
	return m, archive, err
}

func TestFindMemberInEveryFormat(t *testing.T) {
	members := testMembers{
		"small.txt":      []byte("hello, tar\n"),
		"disk.img":       randomBytes(t, 100_000+123),
		"dir/empty.img":  nil,
		"aligned.img":    randomBytes(t, 8192),
		"zz-after.bin":   randomBytes(t, 777),
		"a/" + "b/c.img": randomBytes(t, 513),
		"images/x/y.raw": randomBytes(t, 4096*3+1),
		"unicode-é€.img": randomBytes(t, 1000),
	}
	names := []string{"small.txt", "disk.img", "dir", "aligned.img", "a", "images", "unicode-é€.img", "zz-after.bin"}
	for _, format := range []string{"gnu", "oldgnu", "ustar", "pax", "posix", "v7"} {
		t.Run(format, func(t *testing.T) {
			all := maps.Clone(members)
			if format != "v7" { // v7 headers cannot hold a name of more than 100 bytes
				all[longName] = randomBytes(t, 12345)
			}
			archive := makeArchive(t, format, all, names...)
			for name, want := range all {
				m, data, err := find(t, archive, name, 0)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if m.offset%blockSize != 0 {
					t.Errorf("%s: data at %d, not on a block boundary", name, m.offset)
				}
				if got := data[m.offset : m.offset+m.size]; !bytes.Equal(got, want) {
					t.Errorf("%s: the %d bytes at %d are not the member's %d bytes", name, m.size, m.offset, len(want))
				}
			}
		})
	}
}

func TestFindMemberErrors(t *testing.T) {
	archive := makeArchive(t, "gnu", testMembers{"a.img": randomBytes(t, 2000), "dir/b.img": randomBytes(t, 3000)}, "a.img", "dir")
	for _, tc := range []struct {
		name  string
		limit int64
		errno syscall.Errno
		want  string
	}{
		{"missing.img", 0, syscall.ENOENT, `tar-entry "missing.img": no such entry in the tar archive`},
		{"dir/", 0, syscall.EINVAL, `tar-entry "dir/" is not a regular file (tar type flag '5')`},
		{"./a.img", 0, syscall.ENOENT, "no such entry"}, // names match exactly
		{"dir/b.img", 1024, syscall.ENOENT, "in the first 1024 bytes (tar-limit)"},
	} {
		_, _, err := find(t, archive, tc.name, tc.limit)
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s (limit %d): %v, want %v and %q", tc.name, tc.limit, err, tc.errno, tc.want)
		}
	}
	if _, _, err := find(t, archive, "a.img", 512); err != nil {
		t.Errorf("a.img's header is in the first 512 bytes, yet: %v", err)
	}
}

func TestDamagedArchives(t *testing.T) {
	path := makeArchive(t, "pax", testMembers{"a.img": randomBytes(t, 5000), "b.img": randomBytes(t, 5000)}, "a.img", "b.img")
	archive, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	look := func(archive []byte) error {
		s := scanner{r: bytes.NewReader(archive), size: int64(len(archive))}
		_, err := s.findMember("b.img")
		return err
	}
	if err := look(archive); err != nil {
		t.Fatal(err)
	}
	// b.img's header follows a.img's pax header, header and 10 blocks of data.
	damaged := bytes.Clone(archive)
	damaged[13*blockSize+3] ^= 0x40
	if err := look(damaged); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("a flipped byte in a header: %v", err)
	}
	for _, n := range []int{13*blockSize + 100, 6 * blockSize} {
		if err := look(archive[:n]); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("an archive cut at %d: %v", n, err)
		}
	}
	if err := look(make([]byte, 10*blockSize)); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("an archive of zeroes: %v", err)
	}
	if err := look(bytes.Repeat([]byte("not a tar "), 100)); !errors.Is(err, syscall.EIO) {
		t.Errorf("text: %v", err)
	}
}

func TestSparseMembersRefused(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("data"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, format := range []string{"gnu", "pax"} {
		archive := filepath.Join(t.TempDir(), "sparse.tar")
		gnuTar(t, dir, "--format="+format, "--sparse", "-cf", archive, "sparse.img")
		_, _, err := find(t, archive, "sparse.img", 0)
		if !errors.Is(err, syscall.ENOTSUP) || !strings.Contains(err.Error(), "stored sparse") {
			t.Errorf("%s: a sparse member: %v", format, err)
		}
	}
}

func TestParseNumber(t *testing.T) {
	base256 := func(n uint64) []byte {
		b := make([]byte, 12)
		b[0] = 0x80
		for i := 11; i > 0; i-- {
			b[i] = byte(n)
			n >>= 8
		}
		return b
	}
	for _, tc := range []struct {
		field []byte
		want  int64
		ok    bool
	}{
		{[]byte("00000001750\x00"), 1000, true},
		{[]byte("   1750 \x00\x00\x00\x00"), 1000, true},
		{[]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 0, true},
		{[]byte("0000000178\x00\x00"), 0, false},
		{base256(1 << 40), 1 << 40, true},
		{base256(1<<63 - 1), 1<<63 - 1, true},
		{base256(1 << 63), 0, false},
		{append([]byte{0xff}, bytes.Repeat([]byte{0xff}, 11)...), 0, false},
	} {
		got, err := parseNumber(tc.field)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseNumber(%q) = %d, %v; want %d, ok %v", tc.field, got, err, tc.want, tc.ok)
		}
	}
}

func TestParsePax(t *testing.T) {
	record := func(kv string) string {
		n := len(kv) + 2 + 2 // the space, the newline and two digits of length
		return fmt.Sprintf("%d %s\n", n, kv)
	}
	r, err := parsePax([]byte(record("mtime=1700000000.123456789") + record("path=some/file") + record("size=123456")))
	if err != nil || r.path != "some/file" || r.size != 123456 || !r.hasPath || !r.hasSize || r.sparse {
		t.Errorf("parsePax = %+v, %v", r, err)
	}
	for _, bad := range []string{"5 a=b\n", "99 path=x\n", "12 pathfoo\n", "x path=y\n", "11 size=-1\n"} {
		if _, err := parsePax([]byte(bad)); err == nil {
			t.Errorf("parsePax(%q) succeeded", bad)
		}
	}
}
