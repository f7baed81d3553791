package nbd

import (
	"path/filepath"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

const (
	kiB = 1 << 10
	miB = 1 << 20
)

// copyThrough copies a random image of size bytes into uri with qemu-img and back out
// with nbdcopy, and checks that what comes out is what went in.
func copyThrough(t *testing.T, uri string, size int64) (sum string) {
	t.Helper()
	dir := t.TempDir()
	in, want := servertest.RandomFile(t, dir, size)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", in, uri)
	out := filepath.Join(dir, "out.img")
	servertest.MustRun(t, "nbdcopy", uri, out)
	if got, n := servertest.FileSHA256(t, out); got != want || n != size {
		t.Fatalf("copied out %d bytes with SHA-256 %s, want %d bytes with %s", n, got, size, want)
	}
	return want
}

func TestE2ECopyThroughToNbdkitMemory(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "qemu-img", "nbdcopy")
	sock := startNbdkit(t, "memory", "64M")
	proxy := proxyTo(t, "socket="+sock)
	sum := copyThrough(t, proxy.URI(), 64*miB)

	// What nbdkit holds is the image, read without the proxy.
	out := filepath.Join(t.TempDir(), "direct.img")
	servertest.MustRun(t, "nbdcopy", "nbd+unix:///?socket="+sock, out)
	if got, _ := servertest.FileSHA256(t, out); got != sum {
		t.Errorf("nbdkit holds an image with SHA-256 %s, want %s", got, sum)
	}
}

func TestE2ECopyThroughToGonbd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdcopy")
	disk := servertest.NewDisk(64 * miB)
	remote := servertest.Start(t, disk.Layer(), server.Options{})
	proxy := proxyTo(t, "uri="+remote.URI())
	sum := copyThrough(t, proxy.URI(), 64*miB)
	if got := servertest.SHA256(disk.Bytes()); got != sum {
		t.Errorf("the remote disk holds SHA-256 %s, want %s", got, sum)
	}
}
