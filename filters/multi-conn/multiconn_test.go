package multiconn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	multiconn "github.com/gonbd/gonbd/filters/multi-conn"
	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// noMultiConn hides the next layer's multi-conn, like most plugins.
type noMultiConn struct{ server.PassThrough }

func (f noMultiConn) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	return noMultiConnHandle{server.PassThroughHandle{Next: h}}, err
}

type noMultiConnHandle struct{ server.PassThroughHandle }

func (h noMultiConnHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.MultiConn = false
	return c, err
}

// serve serves the filter with opts over d (hiding its multi-conn if asked) and dials
// n connections.
func serve(t *testing.T, d *servertest.Disk, hideMultiConn bool, opts multiconn.Options, names ...string) []*client.Conn {
	t.Helper()
	next := d.Layer()
	if hideMultiConn {
		next = noMultiConn{server.PassThrough{Next: next}}
	}
	s := servertest.Start(t, multiconn.New(next, opts), server.Options{})
	var conns []*client.Conn
	for _, name := range names {
		conns = append(conns, s.DialExport(t, name))
	}
	return conns
}

func TestFlushReplication(t *testing.T) {
	ctx := context.Background()
	buf := []byte("x")
	for _, tc := range []struct {
		name        string
		opts        multiconn.Options
		hide        bool
		multiConn   bool
		first, more int64 // disk flushes for the first flush after writes on every connection, and for a second
	}{
		{"auto over multi-conn is plugin", multiconn.Options{}, false, true, 1, 0},
		{"auto without is emulate", multiconn.Options{}, true, true, 3, 0},
		{"emulate", multiconn.Options{Mode: multiconn.Emulate}, false, true, 3, 0},
		{"emulate, track off", multiconn.Options{Mode: multiconn.Emulate, TrackDirty: multiconn.TrackOff}, false, true, 3, 3},
		{"emulate, track fast", multiconn.Options{Mode: multiconn.Emulate, TrackDirty: multiconn.TrackFast}, false, true, 3, 0},
		{"plugin without", multiconn.Options{Mode: multiconn.Plugin}, true, false, 1, 0},
		{"unsafe", multiconn.Options{Mode: multiconn.Unsafe}, true, true, 1, 0},
		{"disable", multiconn.Options{Mode: multiconn.Disable}, false, false, 1, 0},
		{"disable, track off", multiconn.Options{Mode: multiconn.Disable, TrackDirty: multiconn.TrackOff}, false, false, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := servertest.NewDisk(1 << 20)
			conns := serve(t, d, tc.hide, tc.opts, "", "", "")
			if got := conns[0].Flags()&protocol.FlagCanMultiConn != 0; got != tc.multiConn {
				t.Errorf("multi-conn advertised: %v, want %v", got, tc.multiConn)
			}
			for i, c := range conns {
				if err := c.WriteAt(ctx, buf, uint64(i*4096), 0); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []int64{tc.first, tc.more} {
				before := d.Counts().Flushes.Load()
				if err := conns[0].Flush(ctx, 0); err != nil {
					t.Fatal(err)
				}
				if got := d.Counts().Flushes.Load() - before; got != want {
					t.Errorf("a flush made %d flushes at the disk, want %d", got, want)
				}
			}
		})
	}
}

func TestReadsMakeConnectionsDirty(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	conns := serve(t, d, false, multiconn.Options{Mode: multiconn.Emulate}, "", "")
	if err := conns[0].WriteAt(ctx, []byte("x"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := conns[1].ReadAt(ctx, make([]byte, 1), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := conns[0].Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := d.Counts().Flushes.Load(); got != 2 {
		t.Errorf("%d flushes at the disk, want 2: the writer's, and the reader's stale cache", got)
	}
}

func TestFUAIsAReplicatedFlush(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	conns := serve(t, d, false, multiconn.Options{Mode: multiconn.Emulate, TrackDirty: multiconn.TrackOff}, "", "")
	if err := conns[0].WriteAt(ctx, []byte("x"), 0, protocol.CmdFlagFUA); err != nil {
		t.Fatal(err)
	}
	if c := d.Counts(); c.FUA.Load() != 0 || c.Flushes.Load() != 2 {
		t.Errorf("FUA %d, flushes %d at the disk; want 0 and one per connection", c.FUA.Load(), c.Flushes.Load())
	}
}

func TestByExportName(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	conns := serve(t, d, false, multiconn.Options{Mode: multiconn.Emulate, TrackDirty: multiconn.TrackOff, ByExportName: true}, "a", "a", "b")
	if err := conns[0].Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := d.Counts().Flushes.Load(); got != 2 {
		t.Errorf("%d flushes at the disk, want 2 (the connections to a only)", got)
	}
}

func TestClosedConnectionsAreForgotten(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	conns := serve(t, d, false, multiconn.Options{Mode: multiconn.Emulate, TrackDirty: multiconn.TrackOff}, "", "", "")
	conns[1].Close()
	conns[2].Close()
	// The server finalizes closed connections asynchronously; flush until they are gone.
	for range 100 {
		before := d.Counts().Flushes.Load()
		if err := conns[0].Flush(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if d.Counts().Flushes.Load()-before == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("flushes still reach closed connections")
}

func TestEmulateNeedsFlush(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(4096)
	// The Disk can always flush; noFlush hides it, like a plugin without flush.
	l := multiconn.New(noFlush{server.PassThrough{Next: d.Layer()}}, multiconn.Options{Mode: multiconn.Emulate})
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err == nil || !strings.Contains(err.Error(), "needs a plugin that supports flush") {
		t.Errorf("Prepare = %v", err)
	}
}

type noFlush struct{ server.PassThrough }

func (f noFlush) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	return noFlushHandle{server.PassThroughHandle{Next: h}}, err
}

type noFlushHandle struct{ server.PassThroughHandle }

func (h noFlushHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Flush = false
	return c, err
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"multi-conn-mode=always", "multi-conn-mode=always: unknown mode"},
		{"multi-conn-track-dirty=slow", "multi-conn-track-dirty=slow: unknown level"},
		{"multi-conn-exportname=perhaps", "multi-conn-exportname=perhaps: could not parse boolean"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{multiconn.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "nbdcopy", "qemu-img")
	d := servertest.NewDisk(4 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{multiconn.Spec()}, "multi-conn-mode=emulate")
	servertest.Nbdsh(t, s.URI(), "assert h.can_multi_conn() and h.can_flush() and h.can_fua()")
	// nbdcopy spreads its requests over several connections when multi-conn is there.
	src, sum := servertest.RandomFile(t, t.TempDir(), 4<<20)
	servertest.MustRun(t, "nbdcopy", "--connections=4", "--flush", src, s.URI())
	if got := servertest.SHA256(d.Bytes()); got != sum {
		t.Error("the disk does not hold what nbdcopy copied")
	}
	if opens := d.Counts().Opens.Load(); opens < 3 {
		t.Errorf("%d connections opened the disk: nbdcopy did not use multi-conn", opens)
	}
	out := t.TempDir() + "/out.img"
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
	if got, _ := servertest.FileSHA256(t, out); got != sum {
		t.Error("qemu-img read back other data")
	}
}
