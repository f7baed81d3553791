package client_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
)

func TestManyRequestsInFlight(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "64M"), nil)

	// Each goroutine owns a 1 MiB region, writes random blocks at random offsets in
	// it and checks that each reads back, so that 64 requests are in flight at once
	// and the replies come back in any order.
	const goroutines, rounds, region = 64, 25, 1 * miB
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range rounds {
				size := 512 * (1 + rng.IntN(64))
				off := uint64(g*region + 512*rng.IntN((region-size)/512))
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				if err := c.WriteAt(ctx, data, off, 0); err != nil {
					errs <- err
					return
				}
				got := make([]byte, size)
				if err := c.ReadAt(ctx, got, off, 0); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, data) {
					errs <- errors.New("data read back differs")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMaxInFlightOfOne(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "8M"), &client.Options{MaxInFlight: 1})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roundTrip(t, c, uint64(g)*miB, 64*kiB)
		}()
	}
	wg.Wait()
}

func TestCancelOneRequestWhileOthersComplete(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	// Reads take a second; writes are immediate.
	c := dial(t, ctx, nbdkit(t, "--filter=delay", "memory", "16M", "delay-read=1"), nil)

	want := randomBytes(t, 64*kiB)
	if err := c.WriteAt(ctx, want, 0, 0); err != nil {
		t.Fatal(err)
	}

	buf := bytes.Repeat([]byte{0x5A}, len(want))
	readCtx, cancel := context.WithCancel(ctx)
	readDone := make(chan error, 1)
	go func() { readDone <- c.ReadAt(readCtx, buf, 0, 0) }()

	// While the read waits, other requests are answered.
	for i := range 10 {
		if err := c.WriteAt(ctx, randomBytes(t, 4096), uint64(1+i)*miB, 0); err != nil {
			t.Fatalf("WriteAt while a read is in flight: %v", err)
		}
	}
	select {
	case err := <-readDone:
		t.Fatalf("the delayed read finished early: %v", err)
	default:
	}

	start := time.Now()
	cancel()
	if err := <-readDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ReadAt = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("canceled ReadAt took %v to return", d)
	}

	// The abandoned reply arrives after a second and is drained, not written into
	// buf; the stream stays in step for the next read.
	time.Sleep(1500 * time.Millisecond)
	if !bytes.Equal(buf, bytes.Repeat([]byte{0x5A}, len(buf))) {
		t.Error("the reply of a canceled read was written into its buffer")
	}
	got := make([]byte, len(want))
	if err := c.ReadAt(ctx, got, 0, 0); err != nil {
		t.Fatalf("ReadAt after a cancellation: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Error("ReadAt after a cancellation read the wrong data")
	}
}

func TestServerVanishingFailsPendingRequests(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "--filter=delay", "memory", "16M", "delay-read=30")
	c := dial(t, ctx, s, nil)

	const readers = 8
	errs := make(chan error, readers)
	for i := range readers {
		go func() { errs <- c.ReadAt(ctx, make([]byte, 4096), uint64(i)*4096, 0) }()
	}
	time.Sleep(300 * time.Millisecond) // let the reads reach the server
	s.kill()

	timeout := time.After(10 * time.Second)
	for range readers {
		select {
		case err := <-errs:
			if !errors.Is(err, client.ErrDisconnected) {
				t.Errorf("pending ReadAt after the server died: %v, want ErrDisconnected", err)
			}
		case <-timeout:
			t.Fatal("pending requests still waiting 10s after the server died")
		}
	}
	if err := c.WriteAt(ctx, make([]byte, 512), 0, 0); !errors.Is(err, client.ErrDisconnected) {
		t.Errorf("WriteAt after the server died: %v, want ErrDisconnected", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close of a broken connection: %v", err)
	}
}

func TestCloseFailsPendingRequests(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "--filter=delay", "memory", "16M", "delay-read=30"), nil)

	errc := make(chan error, 1)
	go func() { errc <- c.ReadAt(ctx, make([]byte, 4096), 0, 0) }()
	time.Sleep(200 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrClosed) {
			t.Errorf("ReadAt pending at Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadAt still pending 10s after Close")
	}
}

func TestDisconnectWaitsForRequestsInFlight(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "--filter=delay", "memory", "16M", "delay-read=500ms"), nil)

	errc := make(chan error, 1)
	go func() { errc <- c.ReadAt(ctx, make([]byte, 4096), 0, 0) }()
	time.Sleep(100 * time.Millisecond)
	if err := c.Disconnect(ctx); err != nil {
		t.Errorf("Disconnect: %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("ReadAt in flight at Disconnect: %v, want success", err)
	}
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); !errors.Is(err, client.ErrClosed) {
		t.Errorf("ReadAt after Disconnect: %v, want ErrClosed", err)
	}
}
