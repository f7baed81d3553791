package rate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestBucket(t *testing.T) {
	var b bucket
	now := time.Now()
	// A new bucket is full: 2 s at 1000 bits/s.
	if missing, wait := b.take(2000, 1000, 2, now); missing != 0 || wait != 0 {
		t.Errorf("a burst within capacity: missing %v, wait %v", missing, wait)
	}
	missing, wait := b.take(500, 1000, 2, now)
	if missing != 500 || wait != 500*time.Millisecond {
		t.Errorf("from an empty bucket: missing %v, wait %v; want 500 bits, 500ms", missing, wait)
	}
	// Half a second later, the missing bits have come.
	if missing, _ := b.take(missing, 1000, 2, now.Add(500*time.Millisecond)); missing != 0 {
		t.Errorf("after waiting: still missing %v", missing)
	}
	// A long idle time fills the bucket to its capacity only.
	later := now.Add(time.Hour)
	if missing, _ := b.take(2000, 1000, 2, later); missing != 0 {
		t.Errorf("after an hour: missing %v", missing)
	}
	if missing, _ := b.take(1, 1000, 2, later); missing != 1 {
		t.Errorf("the bucket held more than its capacity: missing %v", missing)
	}
}

func TestLimitFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rate")
	l := newLimit(100, file, discard())
	now := time.Now()
	if got := l.current(now); got != 100 {
		t.Errorf("without a file: %d, want the parameter", got)
	}
	if err := os.WriteFile(file, []byte("2k\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := l.current(now); got != 100 {
		t.Errorf("read again within a second: %d", got)
	}
	now = now.Add(2 * time.Second)
	if got := l.current(now); got != 2048 {
		t.Errorf("after the file changed: %d, want 2048", got)
	}
	for _, junk := range []string{"fast\n", "0\n", ""} {
		if err := os.WriteFile(file, []byte(junk), 0o644); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Second)
		if got := l.current(now); got != 2048 {
			t.Errorf("file holding %q: %d, want the last rate", junk, got)
		}
	}
	os.Remove(file)
	now = now.Add(2 * time.Second)
	if got := l.current(now); got != 2048 {
		t.Errorf("file removed: %d, want the last rate", got)
	}
	// A file present at start wins over the parameter.
	if err := os.WriteFile(file, []byte("1M"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := newLimit(100, file, discard()).current(time.Now()); got != 1<<20 {
		t.Errorf("file present at start: %d", got)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLimitsReadsAndWrites(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	// 80 kbit/s with 0.1 s of burst: after the first 1 KB, each KB takes 0.1 s.
	f := New(d.Layer(), Options{ConnectionRate: 80000, Burstiness: 0.1})
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	start := time.Now()
	for i := 0; i < 4; i++ {
		if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed < 280*time.Millisecond {
		t.Errorf("4 KB read at 10 KB/s with 1 KB of burst took %v, want at least 300ms", elapsed)
	}
	// Writes have their own bucket, full at first.
	start = time.Now()
	if err := h.WriteAt(ctx, buf, 0, 0); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 80*time.Millisecond {
		t.Errorf("the first write waited %v for the reads' bucket", elapsed)
	}
	// Other requests are not limited.
	for i := 0; i < 100; i++ {
		if err := h.Zero(ctx, 0, 1<<20, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A wait ends with the request's context.
	rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := h.ReadAt(rctx, make([]byte, 100000), 0, 0); !errors.Is(err, syscall.ESHUTDOWN) {
		t.Errorf("read whose context ended while waiting: %v, want ESHUTDOWN", err)
	}
}

func TestParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"rate=0"}, "rate=0: the rate cannot be set to 0"},
		{[]string{"connection-rate=fast"}, "connection-rate=fast"},
		{[]string{"rate=1M", "rate=2M"}, "rate set twice"},
		{[]string{"burstiness=-1"}, "burstiness=-1"},
		{[]string{"burstiness=long"}, "burstiness=long"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rate: ") {
			t.Errorf("%q: %v, want an error about %q", tc.params, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	d := servertest.NewDisk(8 << 20)
	d.SetBytes(bytes.Repeat([]byte{0xee}, 8<<20), 0) // data, so that reads are not holes
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "connection-rate=8M")
	// 4 MB at 8 Mbit/s (1 MB/s): the first 2 MB (2 s of burst) go at once, the rest
	// takes 2 s.
	start := time.Now()
	servertest.Nbdsh(t, s.URI(), "assert h.pread(4 << 20, 0) == b'\\xee' * (4 << 20)")
	if elapsed := time.Since(start); elapsed < 1500*time.Millisecond {
		t.Errorf("4 MB at 8 Mbit/s took %v, want at least 1.5 s", elapsed)
	}
}

func TestEndToEndRateFile(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	d := servertest.NewDisk(8 << 20)
	d.SetBytes(bytes.Repeat([]byte{0xee}, 8<<20), 0)
	file := filepath.Join(t.TempDir(), "rate")
	if err := os.WriteFile(file, []byte("1G\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "rate=8M", "rate-file="+file)
	read := "assert len(h.pread(4 << 20, 0)) == 4 << 20"
	start := time.Now()
	servertest.Nbdsh(t, s.URI(), read, read, read)
	fast := time.Since(start)
	if fast > 1500*time.Millisecond {
		t.Errorf("12 MB at 1 Gbit/s took %v", fast)
	}
	// Replace the file as the manual says: write a new one and rename it.
	tmp := file + ".new"
	if err := os.WriteFile(tmp, []byte("8M\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	time.Sleep(recheck + 100*time.Millisecond)
	start = time.Now()
	servertest.Nbdsh(t, s.URI(), read)
	if slow := time.Since(start); slow < 1500*time.Millisecond {
		t.Errorf("4 MB after the rate file said 8 Mbit/s took %v, want at least 1.5 s", slow)
	}
}
