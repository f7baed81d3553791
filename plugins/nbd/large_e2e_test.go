package nbd

import (
	"bytes"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

const giB = 1 << 30

// TestE2ERequestsAbove4GiB sends zero, trim, cache and block status requests longer
// than 32 bits can say, which a client with extended headers may send the proxy, to
// nbdkit, which has no extended headers: the proxy splits them.
func TestE2ERequestsAbove4GiB(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit")
	sock := startNbdkit(t, "memory", "8G")
	proxy := proxyTo(t, "socket="+sock)
	c := proxy.Dial(t)
	if !c.ExtendedHeaders() {
		t.Fatal("the proxy did not negotiate extended headers, so the client cannot send long requests")
	}
	ctx := testContext(t)

	marks := []uint64{1 * giB, 4*giB + 12345, 5*giB - 4096}
	for _, off := range marks {
		if err := c.WriteAt(ctx, []byte("mark"), off, 0); err != nil {
			t.Fatal(err)
		}
	}
	var ds []int64
	if err := c.BlockStatus(ctx, 0, 6*giB, 0, func(_ string, d []protocol.BlockDescriptor) error {
		for _, x := range d {
			ds = append(ds, int64(x.Length))
		}
		return nil
	}); err != nil {
		t.Fatalf("block status of 6 GiB: %v", err)
	}
	if len(ds) == 0 {
		t.Fatal("block status of 6 GiB returned nothing")
	}

	if err := c.Zero(ctx, 0, 5*giB, 0); err != nil {
		t.Fatalf("zeroing 5 GiB: %v", err)
	}
	if err := c.Cache(ctx, 0, 5*giB, 0); err != nil {
		t.Fatalf("caching 5 GiB: %v", err)
	}
	buf := make([]byte, 4)
	for _, off := range marks {
		if err := c.ReadAt(ctx, buf, off, 0); err != nil || !bytes.Equal(buf, make([]byte, 4)) {
			t.Errorf("at %d after zeroing 5 GiB: %q, %v", off, buf, err)
		}
	}
	if err := c.WriteAt(ctx, []byte("mark"), 4*giB+12345, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Trim(ctx, 0, 5*giB, 0); err != nil {
		t.Fatalf("trimming 5 GiB: %v", err)
	}
	if err := c.ReadAt(ctx, buf, 4*giB+12345, 0); err != nil || !bytes.Equal(buf, make([]byte, 4)) {
		t.Errorf("after trimming 5 GiB (nbdkit's memory plugin zeroes trimmed ranges): %q, %v", buf, err)
	}
}

// TestLongRequestsAreSplit checks the splitting itself on a server whose requests
// the test can see.
func TestLongRequestsAreSplit(t *testing.T) {
	rec := newFlagRecorder(1 * miB)
	remote := servertest.Start(t, server.PluginLayer("recorder", rec), server.Options{})
	p, err := New(Options{Socket: remote.Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Cleanup(testContext(t))
	sh, err := p.Open(testContext(t), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	h := sh.(*handle)
	defer h.Close()
	h.maxLength = 256 * kiB // as if the connection had 18-bit lengths
	ctx := testContext(t)
	if err := h.Zero(ctx, 0, 1*miB, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if got := rec.take("zero"); len(got) != 4 || got[0] != server.FlagFUA || got[3] != server.FlagFUA {
		t.Errorf("a zero of 4 times the longest request reached the server as %v, want 4 zeroes with FUA", got)
	}
	if err := h.Trim(ctx, 0, 1*miB-1, 0); err != nil {
		t.Fatal(err)
	}
	if got := rec.take("trim"); len(got) != 4 {
		t.Errorf("a trim of nearly 4 times the longest request reached the server as %d trims, want 4", len(got))
	}
	e := server.NewExtentList(0, 1*miB)
	if err := h.Extents(ctx, 0, 1*miB, 0, e); err != nil {
		t.Fatal(err)
	}
	if got := rec.take("extents"); len(got) != 1 {
		t.Errorf("%d block status requests; the proxy asks once, for the longest request", len(got))
	}
}
