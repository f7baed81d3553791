package readonly_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/readonly"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// openRecorder remembers the OpenRequest the layer behind the filter received.
type openRecorder struct {
	server.PassThrough
	req server.OpenRequest
}

func (r *openRecorder) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	r.req = req
	return r.Next.Open(ctx, req)
}

func open(t *testing.T, next server.Layer, opts readonly.Options) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := readonly.New(next, opts).Open(ctx, server.OpenRequest{ExportName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Finalize(ctx); h.Close(ctx) })
	return h
}

func TestAlwaysReadOnly(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	rec := &openRecorder{PassThrough: server.PassThrough{Next: d.Layer()}}
	h := open(t, rec, readonly.Options{})
	if !rec.req.ReadOnly || rec.req.ExportName != "x" {
		t.Errorf("the plugin was opened with %+v, want read-only", rec.req)
	}
	c, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Write || c.Trim || c.Zero || c.FastZero || c.FUA != server.FUANone {
		t.Errorf("capabilities %+v still allow writing", c)
	}
	if !c.Flush || !c.Extents {
		t.Errorf("capabilities %+v lost flush or extents", c)
	}
	for name, op := range map[string]func() error{
		"write": func() error { return h.WriteAt(ctx, []byte("x"), 0, 0) },
		"trim":  func() error { return h.Trim(ctx, 0, 4096, 0) },
		"zero":  func() error { return h.Zero(ctx, 0, 4096, 0) },
	} {
		if err := op(); !errors.Is(err, syscall.EPERM) {
			t.Errorf("%s: %v, want EPERM", name, err)
		}
	}
	if n := d.Counts().Writes.Load() + d.Counts().Trims.Load() + d.Counts().Zeros.Load(); n != 0 {
		t.Errorf("%d writes reached the plugin", n)
	}
}

func TestReadOnlyWhileFileExists(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	flag := filepath.Join(t.TempDir(), "frozen")
	rec := &openRecorder{PassThrough: server.PassThrough{Next: d.Layer()}}
	h := open(t, rec, readonly.Options{File: flag})
	if rec.req.ReadOnly {
		t.Error("the plugin was opened read-only although the file does not exist")
	}
	c, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Write || !c.Trim || !c.Zero {
		t.Errorf("capabilities %+v, want writable", c)
	}
	if err := h.WriteAt(ctx, []byte("before"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"write": func() error { return h.WriteAt(ctx, []byte("during"), 0, 0) },
		"trim":  func() error { return h.Trim(ctx, 0, 4096, 0) },
		"zero":  func() error { return h.Zero(ctx, 0, 4096, 0) },
	} {
		if err := op(); !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s while %s exists: %v, want EPERM naming the file", name, flag, err)
		}
	}
	p := make([]byte, 6)
	if err := h.ReadAt(ctx, p, 0, 0); err != nil || string(p) != "before" {
		t.Errorf("read while frozen: %q, %v", p, err)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAt(ctx, []byte("after!"), 0, 0); err != nil {
		t.Fatalf("write after the file is gone: %v", err)
	}
	if got := d.Bytes()[:6]; string(got) != "after!" {
		t.Errorf("disk holds %q", got)
	}
}

func TestUncheckableFileFreezes(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	dir := filepath.Join(t.TempDir(), "locked")
	if err := os.Mkdir(dir, 0o000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	h := open(t, servertest.NewDisk(4096).Layer(), readonly.Options{File: filepath.Join(dir, "frozen")})
	if err := h.WriteAt(context.Background(), []byte("x"), 0, 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("write when the file cannot be checked: %v, want EPERM", err)
	}
}

func TestName(t *testing.T) {
	if got := readonly.New(servertest.NewDisk(4096).Layer(), readonly.Options{}).Name(); got != "readonly" {
		t.Errorf("Name() = %q", got)
	}
}

func TestBadParameters(t *testing.T) {
	_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{readonly.Spec()}, "readonly-file=")
	if err == nil || !strings.Contains(err.Error(), "readonly-file") {
		t.Errorf("readonly-file=: error %v, want one naming the parameter", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	t.Run("always", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		d.SetBytes(bytes.Repeat([]byte{0x5a}, 4096), 0)
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{readonly.Spec()})
		servertest.Nbdsh(t, s.URI(),
			"assert h.is_read_only()",
			"assert h.pread(4096, 0) == b'\\x5a' * 4096",
		)
		// qemu-io refuses to open a read-only export for writing.
		if r := servertest.RunQemuIO(t, s.URI(), "write -P 1 0 512"); r.Code == 0 && !servertest.QemuIOFailed(r) {
			t.Errorf("qemu-io wrote to a read-only export: %s", r)
		}
		if d.Counts().Writes.Load() != 0 {
			t.Error("a write reached the plugin")
		}
	})
	t.Run("file", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		flag := filepath.Join(t.TempDir(), "frozen")
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{readonly.Spec()}, "readonly-file="+flag)
		// One connection sees the export switch between writable and read-only.
		servertest.Nbdsh(t, s.URI(),
			"import errno, os",
			"assert not h.is_read_only()",
			"h.pwrite(b'one', 0)",
			"open("+pyString(flag)+", 'w').close()",
			"try:\n  h.pwrite(b'two', 0)\n  assert False, 'the write succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
			"try:\n  h.zero(4096, 0)\n  assert False, 'the zero succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EPERM, e",
			"assert h.pread(3, 0) == b'one'",
			"os.remove("+pyString(flag)+")",
			"h.pwrite(b'six', 0)",
			"assert h.pread(3, 0) == b'six'",
		)
		servertest.QemuIO(t, s.URI(), "write -P 7 4k 4k", "read -P 7 4k 4k")
		if got := d.Bytes(); string(got[:3]) != "six" || got[4096] != 7 {
			t.Errorf("disk holds %q... and %d at 4k", got[:3], got[4096])
		}
	})
}

// pyString quotes s for Python.
func pyString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
