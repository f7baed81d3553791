package pattern

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestSpecParameters(t *testing.T) {
	for _, tt := range []struct {
		params []string
		want   int64
	}{
		{nil, 0}, // as nbdkit, despite its manual
		{[]string{"size=1M"}, 1 << 20},
		{[]string{"2G"}, 2 << 30}, // size is the magic key
		{[]string{"size=9223372036854775807"}, 1<<63 - 1},
	} {
		layer, err := servertest.Stack(Spec(), nil, tt.params...)
		if err != nil {
			t.Fatalf("%q: %v", tt.params, err)
		}
		ctx := context.Background()
		h, err := layer.Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Prepare(ctx, false); err != nil {
			t.Fatal(err)
		}
		if size, _ := h.Size(ctx); size != tt.want {
			t.Errorf("%q: size %d, want %d", tt.params, size, tt.want)
		}
		h.Close(ctx)
	}
}

func TestSpecRefusesBadParameters(t *testing.T) {
	tests := []struct {
		params []string
		want   []string // each in the error
	}{
		{[]string{"size=banana"}, []string{"size=banana", "could not parse"}},
		{[]string{"size=-1"}, []string{"size=-1", "negative"}},
		{[]string{"size=1M", "seed=1"}, []string{"unknown parameter seed"}},
	}
	for _, tt := range tests {
		_, err := servertest.Stack(Spec(), nil, tt.params...)
		if err == nil {
			t.Errorf("%q: accepted, want an error", tt.params)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not mention %q", tt.params, err, want)
			}
		}
	}
}

func TestSpecDescribesThePlugin(t *testing.T) {
	spec := Spec()
	if spec.Name != "pattern" || spec.MagicConfigKey != "size" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	if !strings.Contains(spec.ConfigHelp, "size=") {
		t.Error("config help does not describe size=")
	}
}
