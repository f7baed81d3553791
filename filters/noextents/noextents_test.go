package noextents_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/filters/noextents"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestAllData(t *testing.T) {
	ctx := context.Background()
	d := servertest.NewDisk(1 << 20)
	d.SetBytes([]byte{1}, 8192)
	h, err := noextents.New(d.Layer()).Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c, err := h.Capabilities(ctx); err != nil || c.Extents || !c.Write {
		t.Errorf("Capabilities = %+v, %v; want no extents, the rest kept", c, err)
	}
	e := server.NewExtentList(100, 1<<20)
	if err := h.Extents(ctx, 100, 1<<20-100, 0, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); len(got) != 1 || got[0] != (server.Extent{Offset: 100, Length: 1<<20 - 100, Type: server.ExtentData}) {
		t.Errorf("Extents = %v, want one data extent", got)
	}
	if n := d.Counts().Extents.Load(); n != 0 {
		t.Errorf("the disk was asked for extents %d times", n)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "nbdinfo")
	d := servertest.NewDisk(1 << 20)
	d.SetBytes([]byte("data"), 64<<10)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{noextents.Spec()})
	servertest.Nbdsh(t, s.URI(),
		"e = []",
		"h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [1 << 20, 0], e",
		"assert h.pread(4, 64 << 10) == b'data'",
		"assert h.pread(1 << 20, 0).count(0) == (1 << 20) - 4",
	)
	r := servertest.MustRun(t, "nbdinfo", "--map", s.URI())
	if want := "0     1048576    0  data"; !containsFields(r.Stdout, want) {
		t.Errorf("nbdinfo --map:\n%s\nwant one line %q", r.Stdout, want)
	}
	if n := d.Counts().Extents.Load(); n != 0 {
		t.Errorf("the disk was asked for extents %d times", n)
	}
}

// containsFields reports whether out has a line with the fields of want, whatever the
// spacing.
func containsFields(out, want string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(strings.Fields(want), " ") {
			return true
		}
	}
	return false
}
