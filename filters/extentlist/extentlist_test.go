package extentlist_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/filters/extentlist"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

const hz = server.ExtentHole | server.ExtentZero

func TestParse(t *testing.T) {
	got, err := extentlist.Parse(strings.NewReader("1M 1M hole\n\n# a comment\n0 4k 0\n3M 1k 3\n 8k\t4k zero,hole \n2M 1 zero\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 0, Length: 4096, Type: server.ExtentData},
		{Offset: 4096, Length: 4096, Type: hz},
		{Offset: 8192, Length: 4096, Type: hz},
		{Offset: 12288, Length: 1<<20 - 12288, Type: hz},
		{Offset: 1 << 20, Length: 1 << 20, Type: server.ExtentHole},
		{Offset: 2 << 20, Length: 1, Type: server.ExtentZero},
		{Offset: 2<<20 + 1, Length: 1<<20 - 1, Type: hz},
		{Offset: 3 << 20, Length: 1024, Type: hz},
		{Offset: 3<<20 + 1024, Length: math.MaxInt64 - (3<<20 + 1024), Type: hz},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parse =\n%v\nwant\n%v", got, want)
	}
	for _, tc := range []struct{ in, want string }{
		{"0 4k\n2k 4k\n", "extents in the extent list are overlapping"},
		{"0 4k bogus\n", `line 1: type: unknown word "bogus"`},
		{"0\n", `line 1: cannot parse "0"`},
		{"0 4k hole 7\n", "cannot parse"},
		{"x 4k\n", "line 1: offset: could not parse size"},
		{"0 -4k\n", "line 1: length: size \"-4k\" is negative"},
	} {
		if _, err := extentlist.Parse(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestExtents(t *testing.T) {
	ctx := context.Background()
	list, err := extentlist.Parse(strings.NewReader("0 4k\n8k 4k\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := servertest.NewDisk(1 << 20)
	h, err := extentlist.New(d.Layer(), list).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	e := server.NewExtentList(1000, 10000)
	if err := h.Extents(ctx, 1000, 9000, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{{Offset: 1000, Length: 3096, Type: 0}, {Offset: 4096, Length: 4096, Type: hz}, {Offset: 8192, Length: 1808, Type: 0}}
	if !slices.Equal(e.Extents(), want) {
		t.Errorf("Extents = %v, want %v", e.Extents(), want)
	}
	e.Reset(5000, 10000)
	if err := h.Extents(ctx, 5000, 5000, server.FlagReqOne, e); err != nil {
		t.Fatal(err)
	}
	if want := []server.Extent{{Offset: 5000, Length: 3192, Type: hz}}; !slices.Equal(e.Extents(), want) {
		t.Errorf("Extents with ReqOne = %v, want %v", e.Extents(), want)
	}
	if d.Counts().Extents.Load() != 0 {
		t.Error("the plugin was asked for extents")
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("0 4k\n0 4k\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{nil, "missing required parameter extentlist"},
		{[]string{"extentlist=/nonexistent/list"}, "extentlist=/nonexistent/list: open /nonexistent/list: no such file"},
		{[]string{"extentlist=" + bad}, "overlapping"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{extentlist.Spec()}, tc.params...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.params, err, tc.want)
		}
	}
}

// TestSameAsNbdkit serves the same list with nbdkit's extentlist filter and with this
// one, and compares nbdinfo --map.
func TestSameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo", "nbdsh")
	dir := t.TempDir()
	list := filepath.Join(dir, "extents.txt")
	if err := os.WriteFile(list, []byte("1M 1M hole\n0 4k 0\n3M 1k 3\n8k 4k zero\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "nbdkit.sock")
	cmd := exec.Command("nbdkit", "-f", "-r", "-U", sock, "--filter=extentlist", "memory", "4M", "extentlist="+list)
	cmd.Env = servertest.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	nbdkitURI := "nbd+unix:///?socket=" + sock
	var want servertest.Result
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if want = servertest.Run(t, "nbdinfo", "--map", nbdkitURI); want.Code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nbdkit did not start: %s", want)
		}
	}
	d := servertest.NewDisk(4 << 20)
	d.SetBytes([]byte("data"), 1<<20) // the plugin's own extents must not show
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{extentlist.Spec()}, "extentlist="+list)
	got := servertest.MustRun(t, "nbdinfo", "--map", s.URI())
	if got.Stdout != want.Stdout {
		t.Errorf("nbdinfo --map:\ngonbd:\n%s\nnbdkit:\n%s", got.Stdout, want.Stdout)
	}
	servertest.Nbdsh(t, s.URI(), "assert h.pread(4, 1 << 20) == b'data'")
}
