package stats

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// newFilter returns the filter, unwrapped, in front of a disk.
func newFilter(t *testing.T, threshold float64) (*filter, server.LayerHandle) {
	t.Helper()
	f := New(servertest.NewDisk(1<<20).Layer(), Options{File: filepath.Join(t.TempDir(), "stats"), Threshold: threshold}).(*filter)
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return f, h
}

func histogram(f *filter, s *opStat) string {
	var b strings.Builder
	s.mu.Lock()
	f.reportOp(&b, s, 1)
	s.mu.Unlock()
	_, hist, _ := strings.Cut(b.String(), "\n")
	return hist
}

// The expected histograms below are what nbdkit 1.32's stats filter printed for the
// same requests.
func TestAlignmentHistogramAsNbdkit(t *testing.T) {
	ctx := context.Background()
	f, h := newFilter(t, DefaultThreshold)
	buf := make([]byte, 4096)
	for i := int64(1); i <= 40; i++ {
		if err := h.WriteAt(ctx, buf, 4096*i, 0); err != nil {
			t.Fatal(err)
		}
	}
	want := `  Request size and alignment breakdown:
    12 bits: 100.0% (40 reqs, 160.00 KiB total)
         12 bit aligned: 100.0% (40)
         13 bit aligned:  50.0% (20)
         14 bit aligned:  25.0% (10)
         15 bit aligned:  12.5% (5)
         16 bit aligned:   5.0% (2)
         17+ bit-aligned:  2.5% (1)

`
	if got := histogram(f, &f.write); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSizeHistogramAsNbdkit(t *testing.T) {
	ctx := context.Background()
	f, h := newFilter(t, DefaultThreshold)
	read := func(n, off int64) {
		if err := h.ReadAt(ctx, make([]byte, n), off, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := int64(0); i < 10; i++ {
		read(4096, i*4096)
	}
	for i := int64(0); i < 5; i++ {
		read(4096, i*65536)
	}
	read(512, 512)
	read(1000, 3)
	want := `  Request size and alignment breakdown:
    12 bits: 88.2% (15 reqs, 60.00 KiB total)
         12 bit aligned: 100.0% (15)
         13 bit aligned:  66.7% (10)
         14 bit aligned:  53.3% (8)
         15 bit aligned:  46.7% (7)
         16 bit aligned:  40.0% (6)
         17 bit aligned:  26.7% (4)
         18 bit aligned:  20.0% (3)
     9 bits: 11.8% (2 reqs, 1.48 KiB total)
          0 bit aligned: 100.0% (2)
          9 bit aligned:  50.0% (1)

`
	if got := histogram(f, &f.read); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// A class beyond the threshold is lumped with the rest: nbdkit printed
	// "12 bits: 95.0% (19 reqs...)" and "other sizes:  5.0% (1 reqs, ...)".
	f, h = newFilter(t, DefaultThreshold)
	for i := 0; i < 19; i++ {
		read(4096, 0)
	}
	read(512, 0)
	got := histogram(f, &f.read)
	if !strings.Contains(got, "    12 bits: 95.0% (19 reqs, 76.00 KiB total)\n    other sizes:  5.0% (1 reqs, 512 bytes total)\n") {
		t.Errorf("got\n%s", got)
	}
	// A lone request is all "other sizes", as in nbdkit.
	f, h = newFilter(t, DefaultThreshold)
	if err := h.Trim(ctx, 0, 65536, 0); err != nil {
		t.Fatal(err)
	}
	if got := histogram(f, &f.trim); !strings.Contains(got, "    other sizes: 100.0% (1 reqs, 64.00 KiB total)\n") {
		t.Errorf("got\n%s", got)
	}
	// No histogram at threshold 0.
	f, h = newFilter(t, 0)
	read(4096, 0)
	if got := histogram(f, &f.read); got != "" {
		t.Errorf("threshold 0: got\n%s", got)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 bytes", 1023: "1023 bytes", 1024: "1.00 KiB", 1536: "1.50 KiB",
		3 << 20: "3.00 MiB", 5 << 30: "5.00 GiB", 9304 << 30: "9304.00 GiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFailedRequestsAreNotCounted(t *testing.T) {
	d := servertest.NewDisk(1 << 20)
	d.Fault = func(op string, off, length int64) error {
		if off == 4096 {
			return os.ErrPermission
		}
		return nil
	}
	f := New(d.Layer(), Options{File: filepath.Join(t.TempDir(), "s")}).(*filter)
	ctx := context.Background()
	h, _ := f.Open(ctx, server.OpenRequest{})
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	h.ReadAt(ctx, make([]byte, 10), 0, 0)
	if err := h.ReadAt(ctx, make([]byte, 10), 4096, 0); err == nil {
		t.Fatal("the faulty read succeeded")
	}
	if f.read.ops != 1 || f.read.bytes != 10 {
		t.Errorf("read: %d ops, %d bytes; want 1, 10", f.read.ops, f.read.bytes)
	}
}

func TestParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, "requires the statsfile parameter"},
		{[]string{"statsfile=x", "statsthreshold=101"}, "between 0 and 100"},
		{[]string{"statsfile=x", "statsthreshold=most"}, "statsthreshold=most"},
		{[]string{"statsfile=x", "statsappend=sure"}, "statsappend=sure"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "stats: ") {
			t.Errorf("%q: %v, want an error about %q", tc.params, err, tc.want)
		}
	}
	layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "statsfile=/nonexistent/dir/stats")
	if err != nil {
		t.Fatal(err)
	}
	if err := layer.GetReady(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/dir/stats") {
		t.Errorf("GetReady with a statsfile in a missing directory: %v", err)
	}
}

// requests is an nbdsh script whose statistics avoid the cases where nbdkit 1.32
// prints something else than it means (see the manual page): no two size classes of
// a kind have the same count, and none is lumped into "other sizes".
var requests = []string{
	"for off in (0, 4096, 8192, 12288, 196608): h.pread(4096, off)",
	"for off in (512, 1536, 3): h.pread(512, off)",
	"for off in (32768, 65536 * 5): h.pread(32768, off)",
	"for off in (0, 1 << 20, 3 << 13): h.pwrite(bytes(8192), off)",
	"for off in (7, 1024): h.pwrite(bytes(1024), off)",
	"h.trim(65536, 0); h.trim(65536, 1 << 20)",
	"for off in (0, 4096, 8192): h.zero(4096, off)",
	"h.cache(4096, 0); h.cache(4096, 4096)",
	"h.block_status(4096, 0, lambda *a: 0); h.block_status(4096, 8192, lambda *a: 0)",
	"h.flush(); h.flush()",
}

// masked blanks what depends on time in a report.
func masked(report string) string {
	report = regexp.MustCompile(`\d+\.\d{6} s`).ReplaceAllString(report, "T s")
	report = regexp.MustCompile(`, [^,]+/s op, [^,]+/s total`).ReplaceAllString(report, ", R/s op, R/s total")
	return regexp.MustCompile(`(?m)^(total: .*), [^,]+/s$`).ReplaceAllString(report, "$1, R/s")
}

func TestEndToEndAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	dir := t.TempDir()
	file := filepath.Join(dir, "gonbd.txt")
	s := servertest.StartStack(t, servertest.NewDisk(4<<20).Spec(), []server.FilterSpec{Spec()}, "statsfile="+file)
	servertest.Nbdsh(t, s.URI(), requests...)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"read: 10 ops", "write: 5 ops", "trim: 2 ops", "zero: 3 ops", "extents: 2 ops", "cache: 2 ops", "flush: 2 ops", "total: 24 ops"} {
		if !strings.Contains(string(got), line) {
			t.Errorf("the report lacks %q:\n%s", line, got)
		}
	}
	nbdkit, err := exec.LookPath("nbdkit")
	if err != nil {
		t.Log("nbdkit is not installed: not compared")
		return
	}
	want := filepath.Join(dir, "nbdkit.txt")
	sock := filepath.Join(dir, "nbdkit.sock")
	cmd := exec.Command(nbdkit, "-f", "--exit-with-parent", "-U", sock, "--filter=stats", "memory", "4M", "statsfile="+want)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nbdkit did not start")
		}
	}
	servertest.Nbdsh(t, "nbd+unix:///?socket="+sock, requests...)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	ref, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if masked(string(got)) != masked(string(ref)) {
		t.Errorf("gonbd's report:\n%s\nnbdkit's:\n%s", got, ref)
	}
}
