package noparallel_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/noparallel"
	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// overlapRecorder is a Disk.Fault hook that records the most reads in the plugin at
// once; each read lingers a little so that parallel ones would overlap.
type overlapRecorder struct {
	now, most atomic.Int32
}

func (r *overlapRecorder) fault(op string, off, length int64) error {
	if op != "read" {
		return nil
	}
	n := r.now.Add(1)
	defer r.now.Add(-1)
	for {
		most := r.most.Load()
		if n <= most || r.most.CompareAndSwap(most, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	return nil
}

// hammer sends reads from several goroutines on each connection at once.
func hammer(t *testing.T, conns ...interface {
	ReadAt(context.Context, []byte, uint64, protocol.CmdFlags) error
}) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range conns {
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for i := range 4 {
					if err := c.ReadAt(context.Background(), buf, uint64(g*i*4096), 0); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

func TestSerializeRequests(t *testing.T) {
	for _, tc := range []struct {
		params   []string
		conns    int
		wantMost int32 // the most reads allowed at once; 0: more than one must happen
	}{
		{nil, 1, 0}, // without the filter: the control, proving the test can see overlap
		{[]string{}, 1, 1},
		{[]string{"serialize=requests"}, 2, 2},
		{[]string{"serialize=all-requests"}, 2, 1},
	} {
		name := "no filter"
		if tc.params != nil {
			name = "serialize=" + strings.Join(tc.params, ",")
		}
		t.Run(name, func(t *testing.T) {
			d := servertest.NewDisk(1 << 20)
			var rec overlapRecorder
			d.Fault = rec.fault
			var filters []server.FilterSpec
			if tc.params != nil {
				filters = []server.FilterSpec{noparallel.Spec()}
			}
			s := servertest.StartStack(t, d.Spec(), filters, tc.params...)
			c1 := s.Dial(t)
			if tc.conns == 2 {
				hammer(t, c1, s.Dial(t))
			} else {
				hammer(t, c1)
			}
			most := rec.most.Load()
			switch {
			case tc.wantMost == 0 && most < 2:
				t.Errorf("without the filter, at most %d read at once: the test cannot see overlap", most)
			case tc.wantMost != 0 && most > tc.wantMost:
				t.Errorf("%d reads overlapped in the plugin, want at most %d", most, tc.wantMost)
			}
		})
	}
}

func TestSerializeConnections(t *testing.T) {
	d := servertest.NewDisk(1 << 20)
	l, err := servertest.Stack(d.Spec(), []server.FilterSpec{noparallel.Spec()}, "serialize=connections")
	if err != nil {
		t.Fatal(err)
	}
	if l.ThreadModel() != server.SerializeConnections {
		t.Errorf("ThreadModel = %v, want SerializeConnections", l.ThreadModel())
	}
	s := servertest.Start(t, l, server.Options{})
	c := s.Dial(t)
	if c.Flags()&protocol.FlagCanMultiConn != 0 {
		t.Error("multi-conn is advertised while connections are serialized")
	}
	// A second client is not served while the first is connected.
	second := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
		defer cancel()
		c2, err := dialAndRead(ctx, s)
		if err == nil {
			c2.Close()
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("a second connection was served while the first was open (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	c.Close()
	if err := <-second; err != nil {
		t.Fatalf("the second connection after the first closed: %v", err)
	}
}

func TestThreadModelNeverRaised(t *testing.T) {
	next := serialPlugin{servertest.NewDisk(4096).Layer()}
	if got := noparallel.New(next, server.SerializeRequests).ThreadModel(); got != server.SerializeConnections {
		t.Errorf("ThreadModel = %v, want the plugin's stricter SerializeConnections", got)
	}
}

type serialPlugin struct{ server.Layer }

func (serialPlugin) ThreadModel() server.ThreadModel { return server.SerializeConnections }

func TestBadMode(t *testing.T) {
	d := servertest.NewDisk(4096)
	_, err := servertest.Stack(d.Spec(), []server.FilterSpec{noparallel.Spec()}, "serialize=sometimes")
	if err == nil || !strings.Contains(err.Error(), "serialize=sometimes") || !strings.Contains(err.Error(), "all-requests") {
		t.Errorf("serialize=sometimes: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	d := servertest.NewDisk(1 << 20)
	var rec overlapRecorder
	d.Fault = rec.fault
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{noparallel.Spec()}, "serialize=all-requests")
	servertest.QemuIO(t, s.URI(), "aio_write -P 0x11 0 64k", "aio_write -P 0x22 64k 64k", "aio_flush",
		"aio_read -P 0x11 0 64k", "aio_read -P 0x22 64k 64k", "aio_flush")
	// nbdsh with many requests in flight: replies come back, in order, one at a time.
	servertest.Nbdsh(t, s.URI(),
		"bufs = [nbd.Buffer(4096) for _ in range(16)]",
		"cookies = [h.aio_pread(bufs[i], i * 4096) for i in range(16)]",
		"while h.aio_in_flight() > 0: h.poll(-1)",
		"assert all(h.aio_command_completed(c) for c in cookies)",
	)
	if most := rec.most.Load(); most != 1 {
		t.Errorf("%d reads overlapped in the plugin, want 1", most)
	}
}

// dialAndRead connects a second client and reads from it.
func dialAndRead(ctx context.Context, s *servertest.Server) (*client.Conn, error) {
	c, err := client.Dial(ctx, "unix", s.Socket, nil)
	if err != nil {
		return nil, err
	}
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
