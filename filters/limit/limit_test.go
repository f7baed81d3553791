package limit_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/limit"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// connect calls Preconnect as the server does for a new connection, and returns the
// function that ends the connection.
func connect(layer server.Layer, id uint64) (end context.CancelFunc, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	info := server.ConnInfo{ID: id}
	if err := layer.Preconnect(server.WithConnInfo(ctx, info), info); err != nil {
		cancel()
		return nil, err
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

// refuser refuses every connection.
type refuser struct{ server.PassThrough }

func (refuser) Preconnect(context.Context, server.ConnInfo) error {
	return errors.New("not today")
}

func TestRefusedClientsDoNotCount(t *testing.T) {
	layer := limit.New(refuser{server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}, 1)
	for i := range 3 {
		if _, err := connect(layer, uint64(i)); err == nil || err.Error() != "not today" {
			t.Fatalf("client %d: %v, want the refusal of the layer behind", i, err)
		}
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
