package blocksizepolicy_test

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	blocksizepolicy "github.com/gonbd/gonbd/filters/blocksize-policy"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func openPolicy(t *testing.T, d *servertest.Disk, opts blocksizepolicy.Options) (server.LayerHandle, error) {
	t.Helper()
	ctx := context.Background()
	l, err := blocksizepolicy.New(d.Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return h, h.Prepare(ctx, false)
}

func TestAdvertised(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts blocksizepolicy.Options
		want server.BlockSize
	}{
		{blocksizepolicy.Options{}, server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: math.MaxUint32}},
		{blocksizepolicy.Options{Preferred: 32 << 10}, server.BlockSize{Minimum: 1, Preferred: 32 << 10, Maximum: math.MaxUint32}},
		{blocksizepolicy.Options{Minimum: 8192}, server.BlockSize{Minimum: 8192, Preferred: 8192, Maximum: math.MaxUint32}},
		{blocksizepolicy.Options{Minimum: 512, Maximum: 1 << 20}, server.BlockSize{Minimum: 512, Preferred: 4096, Maximum: 1 << 20}},
	} {
		h, err := openPolicy(t, servertest.NewDisk(1<<20), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := h.BlockSize(ctx); got != tc.want {
			t.Errorf("%+v: BlockSize = %+v, want %+v", tc.opts, got, tc.want)
		}
	}
	// Constraints that only clash with the defaults are refused when a client connects.
	if _, err := openPolicy(t, servertest.NewDisk(1<<20), blocksizepolicy.Options{Maximum: 1024}); err == nil ||
		!strings.Contains(err.Error(), "minimum ≤ preferred ≤ maximum") {
		t.Errorf("a maximum below the default preferred size: %v", err)
	}
}

func TestErrorPolicy(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1<<20 + 100)
	h, err := openPolicy(t, d, blocksizepolicy.Options{Minimum: 512, Maximum: 64 << 10, Error: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		h.ReadAt(ctx, make([]byte, 100), 0, 0),
		h.ReadAt(ctx, make([]byte, 512), 1, 0),
		h.WriteAt(ctx, make([]byte, 128<<10), 0, 0),
		h.Zero(ctx, 0, 1000, 0),
		h.Trim(ctx, 100, 512, 0),
		h.Cache(ctx, 1, 1, 0),
	} {
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("a request breaking the constraints: %v, want EINVAL", err)
		}
	}
	if c := d.Counts(); c.Reads.Load()+c.Writes.Load()+c.Zeros.Load()+c.Trims.Load()+c.Caches.Load() != 0 {
		t.Error("a refused request reached the plugin")
	}
	for _, err := range []error{
		h.ReadAt(ctx, make([]byte, 1024), 512, 0),
		h.WriteAt(ctx, make([]byte, 64<<10), 0, 0),
		h.Zero(ctx, 0, 1<<20, 0),                   // no maximum for requests without data
		h.ReadAt(ctx, make([]byte, 100), 1<<20, 0), // the unaligned tail of the export
	} {
		if err != nil {
			t.Errorf("a request within the constraints: %v", err)
		}
	}
	// The allow policy passes everything on.
	h, err = openPolicy(t, d, blocksizepolicy.Options{Minimum: 512})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ReadAt(ctx, make([]byte, 3), 1, 0); err != nil {
		t.Errorf("allow: %v", err)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(1 << 20).Spec()
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"blocksize-error-policy=ignore"}, "blocksize-error-policy=ignore: unknown policy (expected allow or error)"},
		{[]string{"blocksize-minimum=3"}, "blocksize-minimum=3: must be a power of 2 between 1 and 64k"},
		{[]string{"blocksize-preferred=256"}, "blocksize-preferred=256: must be a power of 2 between 512 and 32M"},
		{[]string{"blocksize-minimum=4k", "blocksize-preferred=1k"}, "must be at least blocksize-minimum"},
		{[]string{"blocksize-minimum=4k", "blocksize-maximum=6k"}, "must be a multiple of blocksize-minimum"},
		{[]string{"blocksize-maximum=5G"}, "blocksize-maximum=5368709120: must be at most 4294967295"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{blocksizepolicy.Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.params, err, tc.want)
		}
	}
}

// TestSameAsNbdkit compares what nbdinfo shows for the same parameters on nbdkit and
// here, and checks that unaligned requests are refused.
func TestSameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo", "nbdsh")
	params := []string{"blocksize-minimum=512", "blocksize-preferred=32K", "blocksize-maximum=1M", "blocksize-error-policy=error"}
	sock := filepath.Join(t.TempDir(), "nbdkit.sock")
	cmd := exec.Command("nbdkit", append([]string{"-f", "-U", sock, "--filter=blocksize-policy", "memory", "1M"}, params...)...)
	cmd.Env = servertest.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	blockSizes := func(uri string) string {
		var lines []string
		for line := range strings.SplitSeq(servertest.MustRun(t, "nbdinfo", uri).Stdout, "\n") {
			if strings.Contains(line, "block_size") {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		return strings.Join(lines, "\n")
	}
	nbdkitURI := "nbd+unix:///?socket=" + sock
	for deadline := time.Now().Add(10 * time.Second); servertest.Run(t, "nbdinfo", nbdkitURI).Code != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nbdkit did not start")
		}
	}
	s := servertest.StartStack(t, servertest.NewDisk(1<<20).Spec(), []server.FilterSpec{blocksizepolicy.Spec()}, params...)
	if got, want := blockSizes(s.URI()), blockSizes(nbdkitURI); got != want || !strings.Contains(got, "32768") {
		t.Errorf("nbdinfo block sizes:\ngonbd:\n%s\nnbdkit:\n%s", got, want)
	}
	for _, uri := range []string{nbdkitURI, s.URI()} {
		servertest.Nbdsh(t, uri,
			"import errno",
			"h.set_strict_mode(0)",
			"try:\n  h.pread(100, 1)\n  assert False, 'an unaligned read succeeded'\nexcept nbd.Error as e:\n  assert e.errnum == errno.EINVAL, e",
			"assert h.pread(512, 512) == bytes(512)",
		)
	}
}
