package nofilter_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/gonbd/gonbd/filters/nofilter"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestPassesEverything(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	l := nofilter.New(d.Layer())
	if l.Name() != "disk" || l.ThreadModel() != server.Parallel {
		t.Errorf("Name, ThreadModel = %q, %v; want the plugin's", l.Name(), l.ThreadModel())
	}
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	caps, err := h.Capabilities(ctx)
	if err != nil || !caps.Write || !caps.Trim || !caps.MultiConn || caps.FUA != server.FUANative {
		t.Errorf("Capabilities = %+v, %v; want the disk's", caps, err)
	}
	data := bytes.Repeat([]byte("nofilter"), 512)
	if err := h.WriteAt(ctx, data, 1000, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if err := h.ReadAt(ctx, got, 1000, 0); err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %q..., %v", got[:16], err)
	}
	if n := d.Counts().FUA.Load(); n != 1 {
		t.Errorf("FUA writes at the disk = %d, want 1", n)
	}
	if err := h.Finalize(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{nofilter.Spec()})
	servertest.QemuIO(t, s.URI(), "write -P 0x5a 4k 8k", "write -z 64k 64k", "read -P 0x5a 4k 8k", "flush")
	want := make([]byte, 1<<20)
	for i := 4 << 10; i < 12<<10; i++ {
		want[i] = 0x5a
	}
	if !bytes.Equal(d.Bytes(), want) {
		t.Error("the disk does not hold what qemu-io wrote through the filter")
	}
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 1 << 20",
		"assert h.can_trim() and h.can_zero() and h.can_multi_conn() and h.can_fua()",
		"e = []",
		"h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e[:4] == [4096, 3, 8192, 0], e",
	)
}

func TestNoParameters(t *testing.T) {
	d := servertest.NewDisk(4096)
	if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{nofilter.Spec()}, "nofilter=yes"); err == nil {
		t.Error("a parameter nothing knows was accepted")
	}
}
