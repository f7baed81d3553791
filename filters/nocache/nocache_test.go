package nocache

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// openHandle opens a handle of the filter in front of d the way the server does.
func openHandle(t *testing.T, d *servertest.Disk, mode Mode) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := New(d.Layer(), mode).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Finalize(ctx)
		h.Close(ctx)
	})
	return h
}

func TestModes(t *testing.T) {
	const size = 3<<20 + 512 // more than one emulation chunk, and a short last one
	for _, tc := range []struct {
		mode      Mode
		cache     server.CacheMode
		wantReads int64 // plugin reads made by one cache request of the whole disk
	}{
		{None, server.CacheNone, 0},
		{Emulate, server.CacheNative, 4},
		{Nop, server.CacheNative, 0},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			ctx := context.Background()
			d := servertest.NewDisk(size)
			h := openHandle(t, d, tc.mode)
			c, err := h.Capabilities(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.Cache != tc.cache {
				t.Errorf("cache capability %v, want %v", c.Cache, tc.cache)
			}
			if !c.Write || !c.Extents || c.FUA != server.FUANative {
				t.Errorf("the other capabilities changed: %+v", c)
			}
			err = h.Cache(ctx, 0, size, 0)
			if tc.mode == None {
				if err == nil {
					t.Error("a cache request with cachemode=none succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			counts := d.Counts()
			if got := counts.Reads.Load(); got != tc.wantReads {
				t.Errorf("the plugin saw %d reads, want %d", got, tc.wantReads)
			}
			if tc.mode == Emulate && counts.BytesRead.Load() != size {
				t.Errorf("emulation read %d bytes, want %d", counts.BytesRead.Load(), size)
			}
			if got := counts.Caches.Load(); got != 0 {
				t.Errorf("the plugin saw %d cache requests, want none", got)
			}
		})
	}
}

// TestEmulateHonoursMaximumBlockSize checks that the emulation never reads more at once
// than the next layer accepts.
func TestEmulateHonoursMaximumBlockSize(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	next := maxBlock{PassThrough: server.PassThrough{Next: d.Layer()}, max: 64 << 10}
	h, err := New(next, Emulate).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Cache(ctx, 0, 1<<20, 0); err != nil {
		t.Fatal(err)
	}
	if got := d.Counts().Reads.Load(); got != 16 {
		t.Errorf("%d reads for 1 MiB with a 64 KiB maximum, want 16", got)
	}
}

// maxBlock is a layer whose handles declare a maximum block size.
type maxBlock struct {
	server.PassThrough
	max uint32
}

func (l maxBlock) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := l.Next.Open(ctx, req)
	return maxBlockHandle{server.PassThroughHandle{Next: h}, l.max}, err
}

type maxBlockHandle struct {
	server.PassThroughHandle
	max uint32
}

func (h maxBlockHandle) BlockSize(context.Context) (server.BlockSize, error) {
	return server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: h.max}, nil
}

func TestBadMode(t *testing.T) {
	d := servertest.NewDisk(4096)
	_, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "cachemode=sometimes")
	if err == nil || !strings.Contains(err.Error(), "cachemode=sometimes") || !strings.Contains(err.Error(), "emulate") {
		t.Errorf("cachemode=sometimes: got %v, want an error naming the value and the modes", err)
	}
	if _, err := ParseMode("None"); err == nil {
		t.Error("modes are case-sensitive in nbdkit, but None was accepted")
	}
}
