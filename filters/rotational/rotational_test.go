package rotational_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/filters/rotational"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestCapabilities(t *testing.T) {
	ctx := context.Background()
	for _, want := range []bool{true, false} {
		d := servertest.NewDisk(4096)
		layer := rotational.New(d.Layer(), want)
		if got := layer.Name(); got != "rotational" {
			t.Errorf("Name() = %q", got)
		}
		h, err := layer.Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Prepare(ctx, false); err != nil {
			t.Fatal(err)
		}
		c, err := h.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Rotational != want || !c.Write || !c.Trim {
			t.Errorf("rotational=%v: capabilities %+v", want, c)
		}
	}
}

func TestBadParameters(t *testing.T) {
	_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{rotational.Spec()}, "rotational=sometimes")
	if err == nil || !strings.Contains(err.Error(), "rotational=sometimes") {
		t.Errorf("rotational=sometimes: error %v, want one naming the parameter", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "nbdinfo")
	for _, tc := range []struct {
		param string
		want  string
	}{
		{"", "True"},
		{"rotational=true", "True"},
		{"rotational=off", "False"},
	} {
		d := servertest.NewDisk(64 << 10)
		var params []string
		if tc.param != "" {
			params = append(params, tc.param)
		}
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{rotational.Spec()}, params...)
		servertest.Nbdsh(t, s.URI(),
			"assert h.is_rotational() == "+tc.want,
			"h.pwrite(b'spin', 0)",
			"assert h.pread(4, 0) == b'spin'",
		)
		out := servertest.MustRun(t, "nbdinfo", "--json", s.URI()).Stdout
		if want := `"is_rotational": ` + strings.ToLower(tc.want); !strings.Contains(out, want) {
			t.Errorf("%q: nbdinfo says\n%s\nwant %s", tc.param, out, want)
		}
	}
}
