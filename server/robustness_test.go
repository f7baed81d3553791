package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// TestIdleTimeout: a silent connection is closed once idle for IdleTimeout; one that
// keeps sending requests is not; a request in flight when the timeout strikes still
// gets its reply.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	path := startServer(t, newTestDisk(1<<20).layer(), server.Options{IdleTimeout: idle})

	silent := negotiate(t, path, negotiation{structured: true})
	busy := negotiate(t, path, negotiation{structured: true})
	start := time.Now()
	for time.Since(start) < 3*idle {
		checkServes(t, busy)
		time.Sleep(idle / 5)
	}
	silent.expectClosed()
	if d := time.Since(start); d > 3*idle+5*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
	checkServes(t, busy)

	// The handshake has its own deadline: a slow handshake is not cut by the idle one.
	c := dialRaw(t, path)
	c.greet(fixedNoZeroes)
	time.Sleep(2 * idle)
	c.goExport("")
	checkServes(t, c)

	// A request in flight longer than the timeout is answered before the end.
	gated := newTestDisk(1 << 20)
	gated.write([]byte("slow"), 0)
	gated.gate = make(chan struct{})
	gated.entered = make(chan struct{}, 1)
	path = startServer(t, gated.layer(), server.Options{IdleTimeout: idle})
	slow := negotiate(t, path, negotiation{structured: true})
	slow.send(protocol.Request{Type: protocol.CmdRead, Length: 4}, nil)
	<-gated.entered
	time.Sleep(2 * idle)
	close(gated.gate)
	if got := slow.readData(slow.readReply(), 0, 4); string(got) != "slow" {
		t.Errorf("read in flight at the idle timeout: %q", got)
	}
	slow.expectClosed()
}

// TestManyClientsConcurrently runs many pure-Go clients at once, each writing, flushing
// and reading back its own region with requests in flight, under the race detector in
// make check.
func TestManyClientsConcurrently(t *testing.T) {
	const clients, region, rounds = 24, 256 << 10, 8
	d := newTestDisk(clients * region)
	path := startServer(t, d.layer(), server.Options{Threads: 8})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- exerciseRegion(ctx, path, uint64(i*region), region, rounds, uint64(i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if d.closes.Load() != d.opens.Load() {
		waitFor(t, "every handle to close", func() bool { return d.closes.Load() == d.opens.Load() })
	}
}

// exerciseRegion writes random blocks of [base, base+size) with several requests in
// flight, flushes, and checks that every byte reads back as last written.
func exerciseRegion(ctx context.Context, path string, base, size uint64, rounds int, seed uint64) error {
	opts := &client.Options{DisableExtendedHeaders: seed%2 == 0, DisableStructuredReplies: seed%3 == 0}
	c, err := client.Dial(ctx, "unix", path, opts)
	if err != nil {
		return fmt.Errorf("client %d: %w", seed, err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	want := make([]byte, size)
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 { // disjoint blocks of this round, written concurrently
			block := size / 8
			off := uint64(w) * block
			n := 1 + rng.Uint64N(block)
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			copy(want[off:], data)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.WriteAt(ctx, data, base+off, 0)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return fmt.Errorf("client %d round %d: write: %w", seed, r, err)
			}
		}
		if err := c.Flush(ctx, 0); err != nil {
			return fmt.Errorf("client %d: flush: %w", seed, err)
		}
	}
	got := make([]byte, size)
	if err := c.ReadAt(ctx, got, base, 0); err != nil {
		return fmt.Errorf("client %d: read: %w", seed, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("client %d: read back other data than written", seed)
	}
	return c.Disconnect(ctx)
}
