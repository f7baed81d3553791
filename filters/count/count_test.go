package count_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/count"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestCountsSuccessfulRequests(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	d.Fault = func(op string, off, length int64) error {
		if off == 999<<10 {
			return syscall.EIO
		}
		return nil
	}
	f := count.New(d.Layer(), count.Options{Output: new(bytes.Buffer)})
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var wg sync.WaitGroup
	for i := range 8 { // connections share the counters, and requests run in parallel
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 1000)
			if err := h.ReadAt(ctx, p, int64(i)*1000, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	steps := []struct {
		op   func() error
		fail bool
	}{
		{func() error { return h.WriteAt(ctx, buf[:512], 0, 0) }, false},
		{func() error { return h.WriteAt(ctx, buf, 999<<10, 0) }, true},
		{func() error { return h.Zero(ctx, 8192, 3<<10, server.FlagMayTrim) }, false},
		{func() error { return h.Zero(ctx, 999<<10, 1, 0) }, true},
		{func() error { return h.Trim(ctx, 64<<10, 7, 0) }, false},
		{func() error { return h.ReadAt(ctx, buf[:10], 999<<10, 0) }, true},
		{func() error { return h.Flush(ctx, 0) }, false},
	}
	for i, s := range steps {
		if err := s.op(); (err != nil) != s.fail {
			t.Errorf("step %d: %v", i, err)
		}
	}
	want := count.Totals{Read: 8000, Written: 512, Zeroed: 3 << 10, Trimmed: 7}
	if got := f.Totals(); got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	if got := d.Counts().BytesWritten.Load(); got != 512 {
		t.Errorf("the disk received %d bytes, want 512", got)
	}
}

func TestReportAtCleanup(t *testing.T) {
	var out bytes.Buffer
	var log servertest.LogBuffer
	d := servertest.NewDisk(64 << 10)
	cleaned := &cleanupRecorder{PassThrough: server.PassThrough{Next: d.Layer()}}
	f := count.New(cleaned, count.Options{Output: &out, Logger: log.Logger()})
	if f.Name() != "count" {
		t.Errorf("Name() = %q", f.Name())
	}
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	h.Prepare(ctx, false)
	if err := h.WriteAt(ctx, make([]byte, 1234), 0, 0); err != nil {
		t.Fatal(err)
	}
	f.Cleanup(ctx)
	if want := "count: read 0 bytes, written 1234 bytes, zeroed 0 bytes, trimmed 0 bytes\n"; out.String() != want {
		t.Errorf("report %q, want %q", out.String(), want)
	}
	if l := log.String(); !strings.Contains(l, "level=INFO") || !strings.Contains(l, "written=1234") {
		t.Errorf("log %q lacks the totals at info level", l)
	}
	if !cleaned.done {
		t.Error("the layers behind were not cleaned up")
	}
}

func TestReportWriteErrorIsLogged(t *testing.T) {
	var log servertest.LogBuffer
	f := count.New(servertest.NewDisk(4096).Layer(), count.Options{Output: failingWriter{}, Logger: log.Logger()})
	f.Cleanup(context.Background())
	if !strings.Contains(log.String(), "disk full") {
		t.Errorf("log %q does not say the report failed", log.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

type cleanupRecorder struct {
	server.PassThrough
	done bool
}

func (c *cleanupRecorder) Cleanup(ctx context.Context) {
	c.done = true
	c.Next.Cleanup(ctx)
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	var out bytes.Buffer
	d := servertest.NewDisk(1 << 20)
	f := count.New(d.Layer(), count.Options{Output: &out})
	s := servertest.Start(t, f, server.Options{})
	servertest.QemuIO(t, s.URI(), "write -P 0x11 0 64k", "read -P 0x11 0 64k", "write -z 64k 64k")
	servertest.Nbdsh(t, s.URI(),
		"h.trim(4096, 128 * 1024)",
		"assert h.pread(100, 1000) == b'\\x11' * 100",
	)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	want := count.Totals{Read: 64<<10 + 100, Written: 64 << 10, Zeroed: 64 << 10, Trimmed: 4096}
	if got := f.Totals(); got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	if line := fmt.Sprintln(want); out.String() != line {
		t.Errorf("report %q, want %q", out.String(), line)
	}
}

func TestSpec(t *testing.T) {
	if _, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{count.Spec()}, "count=yes"); err == nil ||
		!strings.Contains(err.Error(), "unknown parameter count") {
		t.Errorf("count=yes: error %v, want an unknown parameter", err)
	}
}
