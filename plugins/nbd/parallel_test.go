package nbd

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// rendezvous is a plugin whose reads each wait until n reads are in progress at once,
// so that reads sent one at a time time out.
type rendezvous struct {
	n       int64
	opens   atomic.Int64
	waiting atomic.Int64
	all     chan struct{}
	once    sync.Once
}

func (r *rendezvous) Open(context.Context, server.OpenRequest) (server.Handle, error) {
	r.opens.Add(1)
	return r, nil
}

func (r *rendezvous) Size(context.Context) (int64, error) { return 1 * miB, nil }

func (r *rendezvous) ReadAt(ctx context.Context, p []byte, off int64) error {
	if r.waiting.Add(1) == r.n {
		r.once.Do(func() { close(r.all) })
	}
	select {
	case <-r.all:
		clear(p)
		return nil
	case <-time.After(10 * time.Second):
		return server.Errorf(syscall.ETIMEDOUT, "only %d of %d reads arrived together", r.waiting.Load(), r.n)
	}
}

// TestRequestsInFlightTogether sends many reads from one client: they must all be in
// flight at once on the one connection to the server.
func TestRequestsInFlightTogether(t *testing.T) {
	const n = 12 // below the server's 16 threads per connection
	remote := &rendezvous{n: n, all: make(chan struct{})}
	srv := servertest.Start(t, server.PluginLayer("rendezvous", remote), server.Options{})
	proxy := proxyTo(t, "socket="+srv.Socket)
	c := proxy.Dial(t)
	ctx := testContext(t)

	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.ReadAt(ctx, make([]byte, 4096), uint64(i*4096), 0); err != nil {
				t.Errorf("read %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if got := remote.opens.Load(); got != 1 {
		t.Errorf("the server was opened %d times for one client, want 1", got)
	}
}
