package errorfilter

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"0", 0}, {"0%", 0}, {"1", 1}, {"100%", 1}, {"10%", 0.1}, {"0.25", 0.25}, {"0.5%", 0.005}, {"1e-1", 0.1},
	} {
		if got, err := ParseRate(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "could not parse"}, {"often", "could not parse"}, {"%", "could not parse"}, {"NaN", "could not parse"},
		{"101%", "out of range"}, {"1.5", "out of range"}, {"-0.1", "out of range"},
	} {
		if _, err := ParseRate(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRate(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseErrno(t *testing.T) {
	for name, want := range map[string]syscall.Errno{
		"EPERM": syscall.EPERM, "EIO": syscall.EIO, "ENOMEM": syscall.ENOMEM,
		"EINVAL": syscall.EINVAL, "ENOSPC": syscall.ENOSPC, "ESHUTDOWN": syscall.ESHUTDOWN,
	} {
		if got, err := ParseErrno(name); err != nil || got != want {
			t.Errorf("ParseErrno(%q) = %v, %v", name, got, err)
		}
	}
	for _, bad := range []string{"", "eio", "EAGAIN", "5"} {
		if _, err := ParseErrno(bad); err == nil {
			t.Errorf("ParseErrno(%q) succeeded", bad)
		}
	}
}

func params(kv ...string) *server.Params {
	list := make([]server.Param, len(kv))
	for i, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		list[i] = server.Param{Key: k, Value: v}
	}
	return server.NewParams(list, nil)
}

func TestParamsInOrder(t *testing.T) {
	p := params("error=ENOSPC", "error-rate=100%", "error-pread-rate=0", "error-cache=EPERM", "error-zero-file=trigger", "size=1M")
	opts, err := parseParams(p)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("trigger")
	want := Options{
		Read:    Rule{Errno: syscall.ENOSPC, Rate: 0},
		Write:   Rule{Errno: syscall.ENOSPC, Rate: 1},
		Trim:    Rule{Errno: syscall.ENOSPC, Rate: 1},
		Zero:    Rule{Errno: syscall.ENOSPC, Rate: 1, File: abs},
		Extents: Rule{Errno: syscall.ENOSPC, Rate: 1},
		Cache:   Rule{Errno: syscall.EPERM, Rate: 1},
	}
	if opts != want {
		t.Errorf("got %+v\nwant %+v", opts, want)
	}
	if unused := p.Unused(); len(unused) != 1 || unused[0].Key != "size" {
		t.Errorf("left %v for the plugin, want only size", unused)
	}
	// The other way round, the global rate wins.
	opts, _ = parseParams(params("error-pread-rate=0", "error-rate=1"))
	if opts.Read.Rate != 1 {
		t.Errorf("error-rate after error-pread-rate: read rate %v, want 1", opts.Read.Rate)
	}
}

func TestBadParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, tc := range []struct{ param, want string }{
		{"error=EAGAIN", `error=EAGAIN: unknown error name "EAGAIN"`},
		{"error-rate=200%", "error-rate=200%: rate out of range"},
		{"error-pwrite-rate=sometimes", "error-pwrite-rate=sometimes: could not parse rate"},
		{"error-flush-rate=1", "unknown parameter error-flush-rate"},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func open(t *testing.T, d *servertest.Disk, opts Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := New(d.Layer(), opts).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAlwaysAndNever(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	always := Rule{Errno: syscall.ENOSPC, Rate: 1}
	h := open(t, d, Options{Write: always, Zero: always, Trim: Rule{Rate: 1}, Extents: Rule{Errno: syscall.EPERM, Rate: 1}})
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		what string
		err  error
		want syscall.Errno
	}{
		{"pwrite", h.WriteAt(ctx, buf, 0, 0), syscall.ENOSPC},
		{"zero", h.Zero(ctx, 0, 4096, 0), syscall.ENOSPC},
		{"trim", h.Trim(ctx, 0, 4096, 0), syscall.EIO},
		{"extents", h.Extents(ctx, 0, 4096, 0, server.NewExtentList(0, 4096)), syscall.EPERM},
	} {
		if !errors.Is(tc.err, tc.want) || !strings.Contains(tc.err.Error(), "injecting") ||
			!strings.Contains(tc.err.Error(), " into "+tc.what) {
			t.Errorf("%s: %v, want an injected %v", tc.what, tc.err, tc.want)
		}
	}
	c := d.Counts()
	if c.Writes.Load()+c.Zeros.Load()+c.Trims.Load()+c.Extents.Load() != 0 {
		t.Error("a failed request reached the disk")
	}
	for i := 0; i < 100; i++ {
		if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
			t.Fatalf("read with rate 0: %v", err)
		}
	}
	if err := h.Cache(ctx, 0, 4096, 0); err != nil {
		t.Errorf("cache with rate 0: %v", err)
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Errorf("flush: %v", err)
	}
}

func TestRandomRate(t *testing.T) {
	ctx := context.Background()
	h := open(t, servertest.NewDisk(4096), Options{Read: Rule{Rate: 0.5}})
	failed := 0
	const n = 2000
	for i := 0; i < n; i++ {
		if err := h.ReadAt(ctx, make([]byte, 1), 0, 0); err != nil {
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("read: %v, want EIO", err)
			}
			failed++
		}
	}
	// Ten standard deviations either way: a false alarm is practically impossible.
	if failed < n/2-220 || failed > n/2+220 {
		t.Errorf("%d of %d reads failed at rate 50%%", failed, n)
	}
}

func TestErrorFile(t *testing.T) {
	ctx := context.Background()
	trigger := filepath.Join(t.TempDir(), "inject")
	h := open(t, servertest.NewDisk(4096), Options{Read: Rule{Errno: syscall.ENOMEM, Rate: 1, File: trigger}})
	buf := make([]byte, 512)
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
		t.Errorf("read without the trigger file: %v", err)
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.ReadAt(ctx, buf, 0, 0); !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("read with the trigger file: %v, want ENOMEM", err)
	}
	if err := os.Remove(trigger); err != nil {
		t.Fatal(err)
	}
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
		t.Errorf("read after the trigger file went: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	d := servertest.NewDisk(1 << 20)
	trigger := filepath.Join(t.TempDir(), "inject")
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()},
		"error=ENOSPC", "error-pwrite-rate=100%", "error-zero-rate=1",
		"error-trim=EPERM", "error-trim-rate=100%",
		"error-pread=ESHUTDOWN", "error-pread-rate=100%", "error-pread-file="+trigger)
	expect := func(stmt, errno string) string {
		return "try:\n    " + stmt + "\n    assert False, 'no error'\n" +
			"except nbd.Error as e:\n    assert e.errnum == errno." + errno + ", e"
	}
	servertest.Nbdsh(t, s.URI(),
		"import errno",
		expect("h.pwrite(b'x' * 512, 0)", "ENOSPC"),
		expect("h.zero(512, 0)", "ENOSPC"),
		expect("h.trim(512, 0)", "EPERM"),
		"assert h.pread(512, 0) == bytes(512)",
		"h.flush()",
	)
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	servertest.Nbdsh(t, s.URI(), "import errno", expect("h.pread(512, 0)", "ESHUTDOWN"))
	if r := servertest.RunQemuIO(t, s.URI(), "write -P 1 0 4k"); !servertest.QemuIOFailed(r) ||
		!strings.Contains(r.Stderr+r.Stdout, "No space left on device") {
		t.Errorf("qemu-io write: want No space left on device, got %s", r)
	}
	if c := d.Counts(); c.Writes.Load() != 0 || c.Zeros.Load() != 0 || c.Trims.Load() != 0 {
		t.Error("a failed request reached the disk")
	}
}
