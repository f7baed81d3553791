package limit_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/limit"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// connect calls Preconnect and Open as the server does for a new connection that
// opens the export, and returns the function that ends the connection.
func connect(layer server.Layer, id uint64) (end context.CancelFunc, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	info := server.ConnInfo{ID: id}
	ctx = server.WithConnInfo(ctx, info)
	if err := layer.Preconnect(ctx, info); err != nil {
		cancel()
		return nil, err
	}
	// Twice, as NBD_OPT_INFO then NBD_OPT_GO do: one connection counts once.
	for range 2 {
		h, err := layer.Open(ctx, server.OpenRequest{})
		if err != nil {
			cancel()
			return nil, err
		}
		h.Close(ctx)
	}
	return cancel, nil
}

// eventually retries f until it succeeds or a few seconds pass: a connection is counted
// out by a function the context's end runs on its own goroutine.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLimit(t *testing.T) {
	layer := limit.New(servertest.NewDisk(4096).Layer(), 2)
	if layer.Name() != "limit" {
		t.Errorf("Name() = %q", layer.Name())
	}
	end1, err := connect(layer, 1)
	if err != nil {
		t.Fatal(err)
	}
	end2, err := connect(layer, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer end2()
	_, err = connect(layer, 3)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "too many clients") {
		t.Fatalf("third client: %v, want EBUSY: too many clients", err)
	}
	end1()
	var end4 context.CancelFunc
	eventually(t, func() (err error) { end4, err = connect(layer, 4); return err })
	defer end4()
	if _, err := connect(layer, 5); err == nil {
		t.Error("a fifth client got in while two were connected")
	}
}

func TestNoLimit(t *testing.T) {
	layer := limit.New(servertest.NewDisk(4096).Layer(), 0)
	for i := range 100 {
		end, err := connect(layer, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		defer end()
	}
}

func TestClientsThatOpenNothingDoNotCount(t *testing.T) {
	layer := limit.New(servertest.NewDisk(4096).Layer(), 1)
	ctx := context.Background()
	for i := range 3 { // probes, export listings: Preconnect alone
		info := server.ConnInfo{ID: uint64(i)}
		if err := layer.Preconnect(server.WithConnInfo(ctx, info), info); err != nil {
			t.Fatal(err)
		}
	}
	end, err := connect(layer, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	// A client that got past Preconnect before the slot was taken is refused at Open.
	info := server.ConnInfo{ID: 11}
	if _, err := layer.Open(server.WithConnInfo(ctx, info), server.OpenRequest{}); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("open while the limit is reached: %v, want EBUSY", err)
	}
}

func TestBadParameters(t *testing.T) {
	for _, v := range []string{"-1", "many", "1.5"} {
		_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{limit.Spec()}, "limit="+v)
		if err == nil || !strings.Contains(err.Error(), "limit="+v) {
			t.Errorf("limit=%s: error %v, want one naming the parameter", v, err)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{limit.Spec()}) // limit=1
	// Connecting and leaving (a probe) takes no slot.
	for range 3 {
		probe, err := net.Dial("unix", s.Socket)
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
	}
	first := s.Dial(t)
	if r := servertest.Run(t, "nbdsh", "-u", s.URI(), "-c", "h.pread(1, 0)"); r.Code == 0 {
		t.Fatalf("a second client connected while the first was: %s", r)
	}
	if r := servertest.RunQemuIO(t, s.URI(), "read 0 512"); r.Code == 0 && !servertest.QemuIOFailed(r) {
		t.Fatalf("qemu-io connected while the first client was: %s", r)
	}
	if err := first.WriteAt(context.Background(), []byte("first"), 0, 0); err != nil {
		t.Fatalf("the first client lost its connection: %v", err)
	}
	first.Close() // the server may close first, which Close reports
	eventually(t, func() error {
		if r := servertest.Run(t, "nbdsh", "-u", s.URI(), "-c", "assert h.pread(5, 0) == b'first'"); r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})
	if !strings.Contains(s.Log.String(), "too many clients") {
		t.Errorf("the refusals were not logged:\n%s", s.Log)
	}
}
