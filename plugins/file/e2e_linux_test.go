package file

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// nbdshExtents is Python for nbdsh that prints the export's base:allocation extents
// as JSON [offset, length, flags] triples, asking as often as the server needs.
const nbdshExtents = `
import json
size, off, out = h.get_size(), 0, []
while off < size:
    got = []
    h.block_status(size - off, off, lambda meta, o, e, err: got.extend(e) if meta == "base:allocation" else None)
    for i in range(0, len(got), 2):
        n = min(got[i], size - off)
        out.append([off, n, got[i + 1]])
        off += n
print(json.dumps(out))
`

// extent is one extent as nbdsh prints it.
type extent struct{ Off, Len, Flags int64 }

func parseExtents(t *testing.T, out string) []extent {
	t.Helper()
	var triples [][3]int64
	if err := json.Unmarshal([]byte(out), &triples); err != nil {
		t.Fatalf("extents from nbdsh: %v\n%s", err, out)
	}
	var merged []extent
	for _, e := range triples {
		if n := len(merged); n > 0 && merged[n-1].Flags == e[2] {
			merged[n-1].Len += e[1]
			continue
		}
		merged = append(merged, extent{e[0], e[1], e[2]})
	}
	return merged
}

// fileExtents returns what a file's extents must be: its holes (hole and zero, 3) and
// the data between them (0).
func fileExtents(t *testing.T, path string, size int64) []extent {
	t.Helper()
	var want []extent
	off := int64(0)
	for _, h := range holesOf(t, path) {
		if h[0] > off {
			want = append(want, extent{off, h[0] - off, 0})
		}
		want = append(want, extent{h[0], h[1] - h[0], 3})
		off = h[1]
	}
	if off < size {
		want = append(want, extent{off, size - off, 0})
	}
	return want
}

// TestE2EZeroTrimExtents zeroes and trims with nbdsh, in every way a client can ask,
// then checks that the extents nbdsh reads match the file's holes, and nbdkit's
// extents of the same file, and that the file holds zeroes exactly where it should.
func TestE2EZeroTrimExtents(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	const size = 8 << 20
	contents := randomBytes(t, size)
	path := writeTestFile(t, contents)
	s := servertest.StartStack(t, Spec(), nil, path)

	servertest.Nbdsh(t, s.URI(),
		"assert h.can_trim() and h.can_zero() and h.can_fast_zero() and h.can_multi_conn()",
		"assert h.can_fua() and h.can_flush() and h.can_cache()",
		"h.zero(1 << 20, 1 << 20)",                               // may trim: punched
		"h.trim(1 << 20, 3 << 20)",                               // punched
		"h.zero(1 << 20, 5 << 20, nbd.CMD_FLAG_NO_HOLE)",         // zeroed, allocated
		"h.zero(100000, 6 << 20 | 1000, nbd.CMD_FLAG_FAST_ZERO)", // unaligned, fast
		"h.trim(4096, 7 << 20, nbd.CMD_FLAG_FUA)",
		"h.cache(1 << 20, 0)",
		"h.flush()",
	)
	for _, r := range [][2]int{{1 << 20, 2 << 20}, {3 << 20, 4 << 20}, {5 << 20, 6 << 20}, {6<<20 | 1000, 6<<20 | 101000}, {7 << 20, 7<<20 + 4096}} {
		clear(contents[r[0]:r[1]])
	}
	if !bytes.Equal(readFile(t, path), contents) {
		t.Error("the file does not hold zeroes exactly where nbdsh zeroed and trimmed")
	}
	holes := holesOf(t, path)
	if !slices.Contains(holes, [2]int64{1 << 20, 2 << 20}) || !slices.Contains(holes, [2]int64{3 << 20, 4 << 20}) {
		t.Errorf("the trimmed ranges were not punched: holes %v", holes)
	}

	got := parseExtents(t, servertest.Nbdsh(t, s.URI(), nbdshExtents).Stdout)
	if want := fileExtents(t, path, size); !slices.Equal(got, want) {
		t.Errorf("extents:\n got %v\nwant %v (the file's holes)", got, want)
	}
	if uri := nbdkitURI(t, "file", path); uri != "" {
		ref := parseExtents(t, servertest.Nbdsh(t, uri, nbdshExtents).Stdout)
		if !slices.Equal(got, ref) {
			t.Errorf("extents:\n gonbd  %v\n nbdkit %v", got, ref)
		}
	}
}
