package timelimit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	timelimit "github.com/gonbd/gonbd/filters/time-limit"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"30":    30 * time.Second,
		"1.5":   1500 * time.Millisecond,
		"0.25":  250 * time.Millisecond,
		"+2":    2 * time.Second,
		"0":     0,
		"500ms": 500 * time.Millisecond,
		"30s":   30 * time.Second,
		"1m":    time.Minute,
		"1m30s": 90 * time.Second,
		"2h":    2 * time.Hour,
		"10us":  10 * time.Microsecond,
	} {
		got, err := timelimit.ParseDuration(s)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", " 1", "1 ", "-1", "-1s", "1.2.3", "ten", "1d", "1e3", "s", ".", "99999999999999999999"} {
		if d, err := timelimit.ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, d)
		}
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ params, want string }{
		{"", "missing required parameter time-limit"},
		{"time-limit=soon", "time-limit=soon: could not parse duration"},
		{"time-limit=0", "time-limit=0: the limit must be more than zero"},
		{"time-limit=-3s", "time-limit=-3s: duration \"-3s\" is negative"},
	} {
		var params []string
		if tc.params != "" {
			params = append(params, tc.params)
		}
		_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{timelimit.Spec()}, params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.params, err, tc.want)
		}
	}
	if _, err := timelimit.New(servertest.NewDisk(4096).Layer(), timelimit.Options{}); err == nil {
		t.Error("New accepted a zero limit")
	}
}

func TestDisconnectsAfterTheLimit(t *testing.T) {
	const limit = 500 * time.Millisecond
	var log servertest.LogBuffer
	layer, err := timelimit.New(servertest.NewDisk(1<<20).Layer(), timelimit.Options{Limit: limit, Logger: log.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if layer.Name() != "time-limit" {
		t.Errorf("Name() = %q", layer.Name())
	}
	s := servertest.Start(t, layer, server.Options{})
	ctx := context.Background()
	start := time.Now()
	c := s.Dial(t)
	p := make([]byte, 4)
	if err := c.ReadAt(ctx, p, 0, 0); err != nil {
		if time.Since(start) < limit {
			t.Fatalf("a read before the limit failed: %v", err)
		}
		t.Skipf("the machine is too slow to read within %v", limit)
	}
	// Keep reading until the connection ends; it must not end before the limit.
	for {
		if err := c.ReadAt(ctx, p, 0, 0); err != nil {
			if elapsed := time.Since(start); elapsed < limit {
				t.Fatalf("disconnected after %v, before the limit of %v: %v", elapsed, limit, err)
			}
			break
		}
		if time.Since(start) > servertest.Timeout {
			t.Fatal("the connection was never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "reached its time limit") {
		t.Errorf("the log does not say why the connection ended:\n%s", log.String())
	}
	// A new connection starts its own count.
	fresh := s.Dial(t)
	if err := fresh.ReadAt(ctx, p, 0, 0); err != nil {
		t.Errorf("a new connection cannot read: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	d := servertest.NewDisk(1 << 20)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{timelimit.Spec()}, "time-limit=0.6")
	r := servertest.Nbdsh(t, s.URI(),
		"import time",
		"start = time.monotonic()",
		"h.pwrite(b'in time', 0)",
		"assert h.pread(7, 0) == b'in time'",
		"time.sleep(1.5)",
		"try:\n  h.pread(7, 0)\n  print('still connected')\nexcept nbd.Error as e:\n  print('disconnected:', e)",
	)
	if !strings.Contains(r.Stdout, "disconnected:") {
		t.Errorf("nbdsh stayed connected past the limit: %s", r)
	}
	if string(d.Bytes()[:7]) != "in time" {
		t.Error("the write before the limit was lost")
	}
}
