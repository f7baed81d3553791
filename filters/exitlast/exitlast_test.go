package exitlast_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/exitlast"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// shutDown reports whether the server was asked to shut down within d.
func shutDown(s *servertest.Server, d time.Duration) bool {
	select {
	case <-s.Engine.ShutdownRequested():
		return true
	case <-time.After(d):
		return false
	}
}

func TestShutsDownAfterTheLastClient(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	d := servertest.NewDisk(1 << 20)
	var log servertest.LogBuffer
	s := servertest.Start(t, exitlast.New(d.Layer(), log.Logger()), server.Options{})
	if shutDown(s, 100*time.Millisecond) {
		t.Fatal("the server shut down before any client connected")
	}
	first := s.Dial(t)
	second := s.Dial(t)
	if err := first.WriteAt(context.Background(), []byte("hello"), 0, 0); err != nil {
		t.Fatal(err)
	}
	first.Close()
	if shutDown(s, 200*time.Millisecond) {
		t.Fatal("the server shut down while a client was still connected")
	}
	// A client that comes and goes while another stays changes nothing.
	servertest.Nbdsh(t, s.URI(), "assert h.pread(5, 0) == b'hello'")
	if shutDown(s, 200*time.Millisecond) {
		t.Fatal("the server shut down while a client was still connected")
	}
	p := make([]byte, 5)
	if err := second.ReadAt(context.Background(), p, 0, 0); err != nil || string(p) != "hello" {
		t.Fatalf("the remaining client read %q, %v", p, err)
	}
	second.Close()
	if !shutDown(s, servertest.Timeout) {
		t.Fatal("the server did not shut down after the last client left")
	}
	if !strings.Contains(log.String(), "last client disconnected") {
		t.Errorf("the log does not say why the server shut down:\n%s", log.String())
	}
}

// refuser refuses every open.
type refuser struct{ server.PassThrough }

func (refuser) Open(context.Context, server.OpenRequest) (server.LayerHandle, error) {
	return nil, errors.New("go away")
}

func TestClientsThatOpenNothingDoNotCount(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	layer := exitlast.New(refuser{server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}, nil)
	if layer.Name() != "exitlast" {
		t.Errorf("Name() = %q", layer.Name())
	}
	s := servertest.Start(t, layer, server.Options{})
	for range 3 {
		probe, err := net.Dial("unix", s.Socket) // a probe: connect, leave
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
		if r := servertest.Run(t, "nbdsh", "-u", s.URI(), "-c", "pass"); r.Code == 0 {
			t.Fatal("a client opened an export that cannot be opened")
		}
	}
	if shutDown(s, 200*time.Millisecond) {
		t.Fatal("clients that opened nothing shut the server down")
	}
}

func TestWithoutServerItOnlyWarns(t *testing.T) {
	var log servertest.LogBuffer
	layer := exitlast.New(servertest.NewDisk(4096).Layer(), log.Logger())
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := layer.Open(ctx, server.OpenRequest{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), "cannot shut down") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning in the log:\n%s", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNoParameters(t *testing.T) {
	_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{exitlast.Spec()}, "exitlast=1")
	if err == nil || !strings.Contains(err.Error(), "unknown parameter exitlast") {
		t.Errorf("exitlast=1: error %v, want an unknown parameter", err)
	}
}
