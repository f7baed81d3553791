package file

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// loopDevice attaches a new loop device to a file of size bytes holding contents and
// returns the device's path and the file's. It needs root and losetup; without them
// the test is skipped, as the block device paths cannot be reached otherwise.
func loopDevice(t *testing.T, contents []byte) (dev, backing string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("attaching a loop device needs root")
	}
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	backing = writeTestFile(t, contents)
	out, err := exec.Command(losetup, "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("losetup --find --show: %v: %s", err, out)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command(losetup, "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev, backing
}

func TestBlockDevice(t *testing.T) {
	const size = 8 << 20
	contents := randomBytes(t, size)
	dev, backing := loopDevice(t, contents)
	ctx := context.Background()

	for _, noCache := range []bool{false, true} {
		p := newTestPlugin(t, Options{File: dev, NoCache: noCache})
		h := openLayer(t, p, "", false)
		if got, _ := h.Size(ctx); got != size {
			t.Fatalf("size of %s: %d, want %d (BLKGETSIZE64)", dev, got, size)
		}
		raw, err := p.Open(ctx, server.OpenRequest{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if fh := raw.(*handle); !fh.blockDevice || fh.sectorSize < 512 || (noCache && fh.direct == nil) {
			t.Errorf("cache=none %v: block device %v, sector size %d, direct %v", noCache, fh.blockDevice, fh.sectorSize, fh.direct != nil)
		}
		raw.(*handle).Close()

		if got := mustReadAt(t, h, 12345, 100000); !bytes.Equal(got, contents[12345:112345]) {
			t.Errorf("cache=none %v: reading the device differs from its file", noCache)
		}
		w := randomBytes(t, 5000)
		mustWriteAt(t, h, w, 3<<20+7, server.FlagFUA)
		copy(contents[3<<20+7:], w)
		// Zero without trimming: a loop device punches and cannot allocate, then
		// BLKZEROOUT does it; a fast zero must not use BLKZEROOUT.
		if err := h.Zero(ctx, 1<<20, 1<<20, 0); err != nil {
			t.Fatalf("Zero: %v", err)
		}
		clear(contents[1<<20 : 2<<20])
		if err := h.Zero(ctx, 5<<20, 1<<20, server.FlagMayTrim|server.FlagFastZero); err != nil {
			t.Fatalf("fast Zero that may trim: %v", err)
		}
		clear(contents[5<<20 : 6<<20])
		if err := h.Trim(ctx, 6<<20, 1<<20, 0); err != nil {
			t.Fatalf("Trim: %v", err)
		}
		clear(contents[6<<20 : 7<<20])
		if err := h.Flush(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if got := mustReadAt(t, h, 0, size); !bytes.Equal(got, contents) {
			t.Errorf("cache=none %v: the device does not read back what was written and zeroed", noCache)
		}
	}
	if !bytes.Equal(readFile(t, backing), contents) {
		t.Error("the loop device's file does not hold what was written")
	}
}

// TestE2EBlockDevice copies a random image onto a loop device through gonbd with
// qemu-img and reads it back.
func TestE2EBlockDevice(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img")
	dir := t.TempDir()
	src, sum := servertest.RandomFile(t, dir, 16<<20)
	dev, backing := loopDevice(t, make([]byte, 16<<20))
	s := servertest.StartStack(t, Spec(), nil, "file="+dev)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, s.URI())
	if got, _ := servertest.FileSHA256(t, backing); got != sum {
		t.Errorf("the device's file after qemu-img convert: SHA-256 %s, want %s", got, sum)
	}
}
