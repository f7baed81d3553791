package nozero_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/nozero"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// flagRecorder records the flags of the zero requests that pass through it.
type flagRecorder struct {
	server.PassThrough
	mu    sync.Mutex
	flags []server.Flags
}

func (r *flagRecorder) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := r.Next.Open(ctx, req)
	return recordingHandle{server.PassThroughHandle{Next: h}, r}, err
}

type recordingHandle struct {
	server.PassThroughHandle
	r *flagRecorder
}

func (h recordingHandle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	h.r.mu.Lock()
	h.r.flags = append(h.r.flags, flags)
	h.r.mu.Unlock()
	return h.Next.Zero(ctx, off, length, flags)
}

// open opens a handle of the filter in front of a recorder in front of d.
func open(t *testing.T, d *servertest.Disk, opts nozero.Options) (server.LayerHandle, *flagRecorder) {
	t.Helper()
	ctx := context.Background()
	rec := &flagRecorder{PassThrough: server.PassThrough{Next: d.Layer()}}
	h, err := nozero.New(rec, opts).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return h, rec
}

func TestCapabilities(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts           nozero.Options
		zero, fastZero bool
	}{
		{nozero.Options{}, false, false},
		{nozero.Options{FastZero: nozero.FastZeroSlow}, false, false},
		{nozero.Options{Zero: nozero.ZeroEmulate}, true, true},
		{nozero.Options{Zero: nozero.ZeroEmulate, FastZero: nozero.FastZeroNone}, true, false},
		{nozero.Options{Zero: nozero.ZeroPlugin}, true, false}, // the disk's own answer
		{nozero.Options{Zero: nozero.ZeroPlugin, FastZero: nozero.FastZeroSlow}, true, true},
		{nozero.Options{Zero: nozero.ZeroNoTrim, FastZero: nozero.FastZeroIgnore}, true, true},
	} {
		h, _ := open(t, servertest.NewDisk(4096), tc.opts)
		c, err := h.Capabilities(ctx)
		if err != nil || c.Zero != tc.zero || c.FastZero != tc.fastZero || !c.Write || !c.Trim {
			t.Errorf("%+v: Capabilities = %+v, %v; want zero %v, fast zero %v", tc.opts, c, err, tc.zero, tc.fastZero)
		}
	}
}

func TestZeroModes(t *testing.T) {
	ctx := context.Background()
	ones := bytes.Repeat([]byte{1}, 3<<20)
	for _, tc := range []struct {
		opts           nozero.Options
		fastErr        bool // a fast zero fails with ENOTSUP
		wantFlags      []server.Flags
		writes, zeroes int64 // at the disk, for a zero and a fast zero
	}{
		{nozero.Options{Zero: nozero.ZeroEmulate}, true, nil, 3, 0},
		{nozero.Options{Zero: nozero.ZeroEmulate, FastZero: nozero.FastZeroIgnore}, false, nil, 4, 0},
		{nozero.Options{Zero: nozero.ZeroNoTrim}, true, []server.Flags{server.FlagFUA}, 0, 1},
		{nozero.Options{Zero: nozero.ZeroNoTrim, FastZero: nozero.FastZeroSlow}, true, []server.Flags{server.FlagFUA}, 0, 1},
		{nozero.Options{Zero: nozero.ZeroPlugin, FastZero: nozero.FastZeroIgnore}, false,
			[]server.Flags{server.FlagFUA | server.FlagMayTrim, server.FlagMayTrim}, 0, 2},
	} {
		d := servertest.NewDisk(4 << 20)
		d.SetBytes(ones, 0)
		h, rec := open(t, d, tc.opts)
		if err := h.Zero(ctx, 1000, 3<<20-2000, server.FlagFUA|server.FlagMayTrim); err != nil {
			t.Fatalf("%+v: Zero: %v", tc.opts, err)
		}
		want := append(append([]byte{}, ones[:1000]...), make([]byte, 3<<20-2000)...)
		want = append(append(want, ones[:1000]...), make([]byte, 1<<20)...)
		if !bytes.Equal(d.Bytes(), want) {
			t.Errorf("%+v: the disk does not hold the zeroes", tc.opts)
		}
		if caps, _ := h.Capabilities(ctx); !caps.FastZero {
			tc.fastErr = true // the server would refuse it; there is nothing to send
		} else if err := h.Zero(ctx, 0, 4096, server.FlagMayTrim|server.FlagFastZero); tc.fastErr != errors.Is(err, syscall.ENOTSUP) || !tc.fastErr && err != nil {
			t.Errorf("%+v: fast zero: %v, want ENOTSUP %v", tc.opts, err, tc.fastErr)
		}
		c := d.Counts()
		if c.Writes.Load() != tc.writes || c.Zeros.Load() != tc.zeroes {
			t.Errorf("%+v: %d writes and %d zeroes reached the disk, want %d and %d",
				tc.opts, c.Writes.Load(), c.Zeros.Load(), tc.writes, tc.zeroes)
		}
		if tc.writes > 0 && c.FUA.Load() != 3 {
			t.Errorf("%+v: %d FUA writes, want the 3 of the FUA zero", tc.opts, c.FUA.Load())
		}
		if len(rec.flags) != len(tc.wantFlags) || (len(tc.wantFlags) > 0 && rec.flags[0] != tc.wantFlags[0]) {
			t.Errorf("%+v: flags passed on = %v, want %v", tc.opts, rec.flags, tc.wantFlags)
		}
	}
}

// noZero hides the next layer's zero, like a read-only plugin's missing write support.
type noZero struct{ server.PassThrough }

func (f noZero) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	return noZeroHandle{server.PassThroughHandle{Next: h}}, err
}

type noZeroHandle struct{ server.PassThroughHandle }

func (h noZeroHandle) Capabilities(ctx context.Context) (server.Capabilities, error) {
	c, err := h.Next.Capabilities(ctx)
	c.Zero, c.FastZero = false, false
	return c, err
}

func TestPluginModesNeedZero(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []nozero.ZeroMode{nozero.ZeroNoTrim, nozero.ZeroPlugin} {
		l := nozero.New(noZero{server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}, nozero.Options{Zero: mode})
		h, err := l.Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Prepare(ctx, false); err == nil || !strings.Contains(err.Error(), "zeromode="+mode.String()) {
			t.Errorf("zeromode=%v over a plugin without zero: Prepare = %v", mode, err)
		}
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"zeromode=fast", "expected none, emulate, notrim or plugin"},
		{"fastzeromode=fast", "expected none, slow, ignore or default"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{nozero.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.param) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.param, err)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	t.Run("none", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		d.SetBytes(bytes.Repeat([]byte{7}, 1<<20), 0)
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{nozero.Spec()})
		servertest.Nbdsh(t, s.URI(), "assert not h.can_zero() and not h.can_fast_zero()")
		// qemu-io falls back to writing zeroes itself.
		servertest.QemuIO(t, s.URI(), "write -z 64k 64k", "read -P 0 64k 64k", "read -P 7 0 64k")
		if c := d.Counts(); c.Zeros.Load() != 0 || c.Writes.Load() == 0 {
			t.Errorf("%d zeroes and %d writes reached the disk; want writes only", c.Zeros.Load(), c.Writes.Load())
		}
	})
	t.Run("emulate", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		d.SetBytes(bytes.Repeat([]byte{7}, 1<<20), 0)
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{nozero.Spec()}, "zeromode=emulate")
		servertest.Nbdsh(t, s.URI(),
			"import errno",
			"assert h.can_zero() and h.can_fast_zero()",
			"h.zero(65536, 65536)",
			"assert h.pread(65536, 65536) == bytes(65536)",
			"try:\n  h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)\n  assert False, 'fast zero succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.ENOTSUP, e",
			"assert h.pread(1, 0) == b'\\x07'",
		)
		if c := d.Counts(); c.Zeros.Load() != 0 || c.Writes.Load() != 1 {
			t.Errorf("%d zeroes and %d writes reached the disk; want one write", c.Zeros.Load(), c.Writes.Load())
		}
	})
}
