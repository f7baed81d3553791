package server_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// controlFilter calls the control functions from a request, as the exitwhen and
// time-limit filters do.
type controlFilter struct {
	server.PassThrough
	onRead func(ctx context.Context)
	info   chan server.ConnInfo
}

func (f controlFilter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	info, _ := server.ConnInfoFrom(ctx)
	f.info <- info
	return controlHandle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f}, nil
}

type controlHandle struct {
	server.PassThroughHandle
	f controlFilter
}

func (h controlHandle) ReadAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.f.onRead(ctx)
	return h.Next.ReadAt(ctx, p, off, flags)
}

func TestShutdownFromALayer(t *testing.T) {
	f := controlFilter{
		PassThrough: server.PassThrough{Next: newTestDisk(1 << 20).layer()},
		onRead:      func(ctx context.Context) { server.Shutdown(ctx) },
		info:        make(chan server.ConnInfo, 1),
	}
	ts := startTestServer(t, f, server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Dial(ctx, "unix", ts.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info := <-f.info
	if info.Peer == nil || info.Peer.PID != os.Getpid() || info.Peer.UID != os.Getuid() {
		t.Errorf("ConnInfo.Peer = %+v, want this process (pid %d, uid %d)", info.Peer, os.Getpid(), os.Getuid())
	}
	if info.ReadOnly {
		t.Error("ConnInfo.ReadOnly is true on a writable server")
	}
	if since := time.Since(info.Accepted); since < 0 || since > testTimeout {
		t.Errorf("ConnInfo.Accepted = %v, not just now", info.Accepted)
	}
	// The read that asked for the shutdown is still answered.
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); err != nil {
		t.Fatalf("the request that asked for the shutdown: %v", err)
	}
	select {
	case <-ts.srv.ShutdownRequested():
	case <-ctx.Done():
		t.Fatal("ShutdownRequested not closed")
	}
	select {
	case err := <-ts.done:
		ts.done <- err
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after Shutdown")
	}
	if server.Shutdown(server.WithConnInfo(context.Background(), info)) {
		t.Error("Shutdown reported a server for a context that has none")
	}
}

func TestDisconnectFromALayer(t *testing.T) {
	for _, force := range []bool{false, true} {
		f := controlFilter{
			PassThrough: server.PassThrough{Next: newTestDisk(1 << 20).layer()},
			onRead: func(ctx context.Context) {
				if !server.Disconnect(ctx, force) {
					t.Error("Disconnect found no connection in a request's context")
				}
			},
			info: make(chan server.ConnInfo, 2),
		}
		path := startServer(t, f, server.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		c, err := client.Dial(ctx, "unix", path, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = c.ReadAt(ctx, make([]byte, 512), 0, 0)
		if force != (err != nil) {
			t.Errorf("force=%v: the read that disconnected got %v", force, err)
		}
		if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); err == nil {
			t.Errorf("force=%v: a read after Disconnect succeeded", force)
		}
		c.Close()
		// The server goes on serving others.
		c2, err := client.Dial(ctx, "unix", path, nil)
		if err != nil {
			t.Fatalf("force=%v: a new client after Disconnect: %v", force, err)
		}
		c2.Close()
		cancel()
	}
	if server.Disconnect(context.Background(), true) {
		t.Error("Disconnect reported a connection for a context that has none")
	}
}
