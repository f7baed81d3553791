package cow

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestEndToEndRandomWrites drives heavy random writes, zeroes and discards through
// qemu-io and nbdsh over a read-only plugin, then copies the whole disk out with
// qemu-img and compares it with a Go model. The plugin must never be written.
func TestEndToEndRandomWrites(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "qemu-img", "nbdsh")
	const size = 8 << 20
	d, original := randomDisk(size, 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()})
	model := slices.Clone(original)

	servertest.Nbdsh(t, s.URI(),
		"assert not h.is_read_only()",
		"assert h.can_trim() and h.can_zero() and h.can_fast_zero() and h.can_multi_conn()",
		"assert h.can_flush() and h.can_fua() and h.can_cache()",
	)

	r := rand.New(rand.NewPCG(21, 22))
	var cmds []string
	for range 400 {
		length := 1 + r.Int64N(100<<10)
		off := r.Int64N(size - length)
		switch k := r.IntN(10); {
		case k < 8:
			fill := byte(r.IntN(256))
			cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", fill, off, length))
			copy(model[off:], bytes.Repeat([]byte{fill}, int(length)))
		default:
			cmds = append(cmds, fmt.Sprintf("write -z %d %d", off, length))
			clear(model[off : off+length])
		}
	}
	servertest.QemuIO(t, s.URI(), cmds...)

	// nbdsh on another connection: unaligned pwrite and zero, and a discard of whole
	// blocks, which the model knows reads as zeroes.
	servertest.Nbdsh(t, s.URI(),
		"h.pwrite(b'\\x11' * 70001, 123457)",
		"h.zero(5000, 3 << 20)",
		"h.trim(2 << 16, 5 << 16)",
		"h.flush()",
	)
	copy(model[123457:], bytes.Repeat([]byte{0x11}, 70001))
	clear(model[3<<20 : 3<<20+5000])
	clear(model[5<<16 : 7<<16])

	out := filepath.Join(t.TempDir(), "out.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, model) {
		t.Error("the disk copied out with qemu-img differs from the model")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	checkUntouched(t, d, original)
}

// TestEndToEndExtents compares the block status nbdsh sees with what nbdkit's cow
// filter would say: changed blocks are data, discarded ones holes, the rest the plugin's.
func TestEndToEndExtents(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	d := servertest.NewDisk(1 << 20)
	d.SetBytes([]byte{1}, 512<<10)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "cow-block-size=64k")
	servertest.Nbdsh(t, s.URI(),
		"h.pwrite(b'x', 65536 + 10)",
		"e = []",
		"h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [65536, 3, 65536, 0, 393216, 3, 4096, 0, 520192, 3], e",
		"assert h.pread(1, 65546) == b'x'",
	)
}

// TestEndToEndCowOnRead checks that with cow-on-read a second pass over the disk does
// not reach the plugin.
func TestEndToEndCowOnRead(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img")
	d, original := randomDisk(4<<20, 23)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "cow-on-read=true")
	for pass := range 2 {
		out := filepath.Join(t.TempDir(), "out.img")
		servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
		if sum, _ := servertest.FileSHA256(t, out); sum != servertest.SHA256(original) {
			t.Fatalf("pass %d: the copy differs from the plugin's data", pass)
		}
		if pass == 0 {
			d.Counts().BytesRead.Store(0)
		}
	}
	if n := d.Counts().BytesRead.Load(); n != 0 {
		t.Errorf("the second pass read %d bytes from the plugin, want 0", n)
	}
}
