package servertest_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestDiskThroughClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1 << 20)
	s := servertest.Start(t, d.Layer(), server.Options{})

	servertest.QemuIO(t, s.URI(), "write -P 0xab 8k 4k", "write -z 64k 64k", "read -P 0xab 8k 4k", "flush")
	want := make([]byte, 1<<20)
	for i := 8 << 10; i < 12<<10; i++ {
		want[i] = 0xab
	}
	if !bytes.Equal(d.Bytes(), want) {
		t.Error("the disk does not hold what qemu-io wrote")
	}
	if c := d.Counts(); c.Writes.Load() != 1 || c.Flushes.Load() < 1 || c.BytesWritten.Load() != 4<<10 {
		t.Errorf("counts: writes %d flushes %d bytes written %d", c.Writes.Load(), c.Flushes.Load(), c.BytesWritten.Load())
	}
	// Extents: only the written block is data.
	servertest.Nbdsh(t, s.URI(),
		"e = []",
		"h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e[:6] == [8192, 3, 4096, 0, 1048576 - 12288, 3], e",
	)
	if r := servertest.RunQemuIO(t, s.URI(), "read -P 0x01 8k 4k"); !servertest.QemuIOFailed(r) {
		t.Errorf("QemuIOFailed missed a pattern mismatch: %s", r)
	}
}

func TestStackParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	if _, err := servertest.Stack(d.Spec(), nil, "colour=blue"); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("an unknown parameter: %v", err)
	}
	s := servertest.StartStack(t, d.Spec(), nil)
	c := s.Dial(t)
	if err := c.WriteAt(context.Background(), []byte("hello"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := d.Bytes()[:5]; string(got) != "hello" {
		t.Errorf("disk holds %q", got)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if d.Counts().Closes.Load() != 1 {
		t.Errorf("closes = %d after Stop, want 1", d.Counts().Closes.Load())
	}
}
