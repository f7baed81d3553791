package info

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
		want   Mode
	}{
		{nil, ModeExportName},
		{[]string{"mode=base64exportname"}, ModeBase64ExportName},
		{[]string{"address"}, ModeAddress}, // mode is the magic key
		{[]string{"time"}, ModeTime},
		{[]string{"mode=uptime"}, ModeUptime},
		{[]string{"conntime"}, ModeConnTime},
	} {
		layer, err := servertest.Stack(Spec(), nil, tt.params...)
		if err != nil {
			t.Errorf("%q: %v", tt.params, err)
			continue
		}
		// The mode shows in the size of an export named "hello": 5 bytes in the
		// export-name mode, 12 in the time modes...
		ctx := server.WithConnInfo(context.Background(), server.ConnInfo{Remote: fakeUnix{}})
		h, err := layer.Open(ctx, server.OpenRequest{ExportName: "aGVsbG8="})
		if err != nil {
			t.Fatalf("%q: %v", tt.params, err)
		}
		if err := h.Prepare(ctx, false); err != nil {
			t.Fatal(err)
		}
		size, _ := h.Size(ctx)
		h.Close(ctx)
		want := map[Mode]int64{ModeExportName: 8, ModeBase64ExportName: 5, ModeAddress: int64(len("fake")),
			ModeTime: 12, ModeUptime: 12, ModeConnTime: 12}[tt.want]
		if size != want {
			t.Errorf("%q: size %d, want %d (mode %s)", tt.params, size, want, tt.want)
		}
	}
}

// fakeUnix is an address of a kind the plugin does not know, which it names by its
// network.
type fakeUnix struct{}

func (fakeUnix) Network() string { return "fake" }
func (fakeUnix) String() string  { return "fake address" }

func TestSpecRefusesBadParameters(t *testing.T) {
	tests := []struct {
		params []string
		want   []string // each in the error
	}{
		{[]string{"mode=nonsense"}, []string{"mode=nonsense", "unknown mode", "exportname, base64exportname, address, time, uptime, conntime"}},
		{[]string{"mode="}, []string{"mode=", "unknown mode"}},
		{[]string{"Time"}, []string{"mode=Time", "unknown mode"}},
		{[]string{"time", "size=1"}, []string{"unknown parameter size"}},
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
	if spec.Name != "info" || spec.MagicConfigKey != "mode" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	if !strings.Contains(spec.ConfigHelp, "mode=") {
		t.Error("config help does not describe mode=")
	}
}
