package fua_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/filters/fua"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestModes drives each mode with qemu-io (write -f is a FUA write) and counts what
// reached the disk.
func TestModes(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	for _, tc := range []struct {
		mode         string
		canFUA       bool
		fua, flushes int64 // at the disk, after a FUA write, a plain write and a flush
	}{
		{"none", false, 0, 1},
		{"emulate", true, 0, 2},
		{"native", true, 1, 1},
		{"pass", true, 1, 1},
		{"force", true, 2, 0},
		{"discard", true, 0, 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			d := servertest.NewDisk(1 << 20)
			s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{fua.Spec()}, "fuamode="+tc.mode)
			canFUA := "True"
			if !tc.canFUA {
				canFUA = "False"
			}
			servertest.Nbdsh(t, s.URI(), "assert h.can_fua() == "+canFUA, "assert h.can_flush()")
			flushesBefore := d.Counts().Flushes.Load()
			write := "h.pwrite(b'\\x01' * 4096, 0)"
			if tc.canFUA {
				write = "h.pwrite(b'\\x01' * 4096, 0, nbd.CMD_FLAG_FUA); h.pwrite(b'\\x02' * 4096, 4096)"
			}
			servertest.Nbdsh(t, s.URI(), write, "h.flush()")
			c := d.Counts()
			flushes := c.Flushes.Load() - flushesBefore
			if got := c.FUA.Load(); got != tc.fua && tc.canFUA {
				t.Errorf("FUA requests at the disk = %d, want %d", got, tc.fua)
			}
			if flushes != tc.flushes {
				t.Errorf("flushes at the disk = %d, want %d", flushes, tc.flushes)
			}
			servertest.QemuIO(t, s.URI(), "read -P 1 0 4k")
			if got := d.Bytes()[0]; got != 1 {
				t.Errorf("byte 0 = %d, want 1: the write did not reach the disk", got)
			}
		})
	}
}

// noFlush hides the next layer's flush and FUA, like a plugin without them.
type noFlush struct{ server.PassThrough }

func (f noFlush) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	return noFlushHandle{server.PassThroughHandle{Next: h}}, err
}

type noFlushHandle struct{ server.PassThroughHandle }

func (h noFlushHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Flush, c.FUA = false, server.FUANone
	return c, err
}

func TestRefusedWithoutSupport(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		mode fua.Mode
		want string
	}{
		{fua.Emulate, "does not support flush"},
		{fua.Native, "does not support FUA"},
		{fua.Force, "does not support FUA"},
	} {
		l := fua.New(noFlush{server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}, tc.mode)
		h, err := l.Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Prepare(ctx, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v over a plugin without flush or FUA: Prepare = %v, want %q", tc.mode, err, tc.want)
		}
	}
	// A read-only connection needs neither.
	l := fua.New(noFlush{server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}, fua.Force)
	h, err := l.Open(ctx, server.OpenRequest{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, true); err != nil {
		t.Errorf("read-only: Prepare = %v", err)
	}
}

func TestEmulateFlushesAfterEachOperation(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(64 << 10)
	h, err := fua.New(d.Layer(), fua.Emulate).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Capabilities(ctx); c.FUA != server.FUAEmulate {
		t.Errorf("FUA = %v, want FUAEmulate", c.FUA)
	}
	ops := []func() error{
		func() error { return h.WriteAt(ctx, []byte("x"), 0, server.FlagFUA) },
		func() error { return h.Trim(ctx, 4096, 4096, server.FlagFUA) },
		func() error { return h.Zero(ctx, 8192, 4096, server.FlagFUA|server.FlagMayTrim) },
		func() error { return h.Zero(ctx, 8192, 4096, 0) }, // no FUA: no flush
	}
	for _, op := range ops {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	if c := d.Counts(); c.Flushes.Load() != 3 || c.FUA.Load() != 0 {
		t.Errorf("flushes %d, native FUA %d; want 3 and 0", c.Flushes.Load(), c.FUA.Load())
	}
}

func TestBadMode(t *testing.T) {
	_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{fua.Spec()}, "fuamode=sometimes")
	if err == nil || !strings.Contains(err.Error(), "fuamode=sometimes") || !strings.Contains(err.Error(), "discard") {
		t.Errorf("fuamode=sometimes: %v", err)
	}
	if s := fua.Mode(42).String(); s != "Mode(42)" {
		t.Errorf("Mode(42).String() = %q", s)
	}
}
