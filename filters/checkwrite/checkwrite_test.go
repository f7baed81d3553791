package checkwrite_test

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/checkwrite"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestChecks(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	d.ReadOnly = true
	d.SetBytes([]byte("contents"), 1000)
	h, err := checkwrite.New(d.Layer()).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	c, err := h.Capabilities(ctx)
	if err != nil || !c.Write || !c.Trim || !c.Zero || !c.Flush || !c.MultiConn || c.FUA != server.FUANative {
		t.Errorf("Capabilities = %+v, %v; want every write capability over a read-only plugin", c, err)
	}
	for _, err := range []error{
		h.WriteAt(ctx, []byte("contents"), 1000, server.FlagFUA),
		h.WriteAt(ctx, []byte("\x00cont"), 999, 0),
		h.Zero(ctx, 2000, 1<<20-2000, server.FlagMayTrim),
		h.Trim(ctx, 0, 1000, 0),
		h.Flush(ctx, 0),
	} {
		if err != nil {
			t.Errorf("a matching request: %v", err)
		}
	}
	for _, err := range []error{
		h.WriteAt(ctx, []byte("Contents"), 1000, 0),
		h.WriteAt(ctx, bytes.Repeat([]byte{1}, 600<<10), 4096, 0), // past one compare chunk
		h.Zero(ctx, 0, 1<<20, 0),
		h.Trim(ctx, 1007, 1, 0),
	} {
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("a request that does not match: %v, want EIO", err)
		}
	}
	if got := string(d.Bytes()[1000:1008]); got != "contents" {
		t.Errorf("the disk changed: %q", got)
	}
}

func TestReadOnlyStaysReadOnly(t *testing.T) {
	ctx := context.Background()
	h, err := checkwrite.New(servertest.NewDisk(4096).Layer()).Open(ctx, server.OpenRequest{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, true); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Capabilities(ctx); c.Write || c.Zero || c.Trim {
		t.Errorf("Capabilities = %+v on a read-only connection", c)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img", "nbdsh")
	d := servertest.NewDisk(4 << 20)
	src, _ := servertest.RandomFile(t, t.TempDir(), 1<<20)
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src,
		"nbd+unix:///?socket="+servertest.StartStack(t, d.Spec(), nil).Socket) // fill the disk
	d.ReadOnly = true
	before := d.Bytes()
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{checkwrite.Spec()})
	// A correct copy of the export onto itself passes, however the tool writes.
	servertest.MustRun(t, "nbdcopy", s.URI(), s.URI())
	servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", s.URI(), s.URI())
	// A wrong one fails.
	other, _ := servertest.RandomFile(t, t.TempDir(), 1<<20)
	if r := servertest.Run(t, "nbdcopy", other, s.URI()); r.Code == 0 {
		t.Errorf("copying other data in succeeded: %s", r)
	}
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		"assert not h.is_read_only()",
		"try:\n  h.zero(4096, 0)\n  assert False, 'zeroing data succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EIO, e",
		"h.zero(1 << 20, 2 << 20)",
	)
	if !bytes.Equal(d.Bytes(), before) {
		t.Error("the plugin was written")
	}
	if d.Counts().BytesWritten.Load() != 1<<20 {
		t.Errorf("%d bytes were written to the disk, want only the 1 MiB of setting it up", d.Counts().BytesWritten.Load())
	}
}
