package memory

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
)

func paramsOf(pairs ...string) *server.Params {
	var list []server.Param
	for _, pair := range pairs {
		key, value, _ := strings.Cut(pair, "=")
		list = append(list, server.Param{Key: key, Value: value})
	}
	return server.NewParams(list, nil)
}

func TestSpecParameters(t *testing.T) {
	tests := []struct {
		params []string
		want   Options
	}{
		{[]string{"size=1M"}, Options{Size: 1 << 20}},
		{[]string{"size=7E"}, Options{Size: 7 << 60}},
		{[]string{"size=100", "allocator=sparse"}, Options{Size: 100, Allocator: "sparse"}},
		{[]string{"size=1k", "allocator=malloc"}, Options{Size: 1024, Allocator: "malloc"}},
		{[]string{"size=1k", "allocator=malloc,mlock=false"}, Options{Size: 1024, Allocator: "malloc"}},
		{[]string{"size=1k", "allocator=malloc,mlock=yes"}, Options{Size: 1024, Allocator: "malloc", Mlock: true}},
		{[]string{"size=1G", "allocator=zstd"}, Options{Size: 1 << 30, Allocator: "zstd"}},
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		got, err := optionsFromParams(p)
		if err != nil {
			t.Errorf("%v: %v", tt.params, err)
			continue
		}
		if got.Logger != p.Logger {
			t.Errorf("%v: the plugin does not log to the parameters' logger", tt.params)
		}
		got.Logger = nil
		if got != tt.want {
			t.Errorf("%v: got %+v, want %+v", tt.params, got, tt.want)
		}
		if unused := p.Unused(); len(unused) > 0 {
			t.Errorf("%v: parameters left unused: %v", tt.params, unused)
		}
	}
}

func TestSpecRefusesBadParameters(t *testing.T) {
	tests := []struct {
		params []string
		want   []string // each in the error
	}{
		{nil, []string{"size"}},
		{[]string{"allocator=malloc"}, []string{"size"}},
		{[]string{"size=banana"}, []string{"size", "banana"}},
		{[]string{"size=-1"}, []string{"size", "negative"}},
		{[]string{"size=1", "allocator=zstd,level=3"}, []string{"allocator=zstd does not take extra parameters"}},
		{[]string{"size=1", "allocator=bogus"}, []string{`"bogus"`, "sparse", "malloc", "zstd"}},
		{[]string{"size=1", "allocator=bogus,mlock=true"}, []string{`"bogus"`}},
		{[]string{"size=1", "allocator=sparse,mlock=true"}, []string{"allocator=sparse does not take extra parameters"}},
		{[]string{"size=1", "allocator=malloc,foo=bar"}, []string{"allocator=malloc", "foo"}},
		{[]string{"size=1", "allocator=malloc,mlock"}, []string{"allocator=malloc", "mlock", "key=value"}},
		{[]string{"size=1", "allocator=malloc,mlock=maybe"}, []string{"mlock=maybe"}},
	}
	for _, tt := range tests {
		plugin, err := Spec().New(paramsOf(tt.params...))
		if err == nil {
			plugin.(*Plugin).Cleanup(context.Background())
			t.Errorf("%v: accepted, want an error", tt.params)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error %q does not mention %q", tt.params, err, want)
			}
		}
	}
}

// TestSpecLeavesMlockAloneUnused checks that mlock= only works inside the allocator
// parameter, as in nbdkit, where a bare mlock=true is an unknown parameter.
func TestSpecLeavesMlockAloneUnused(t *testing.T) {
	p := paramsOf("size=1M", "mlock=true")
	plugin, err := Spec().New(p)
	if err != nil {
		t.Fatal(err)
	}
	plugin.(*Plugin).Cleanup(context.Background())
	if unused := p.Unused(); len(unused) != 1 || unused[0].Key != "mlock" {
		t.Errorf("unused parameters: %v, want mlock alone", unused)
	}
}

func TestSpecDescribesThePlugin(t *testing.T) {
	spec := Spec()
	if spec.Name != "memory" || spec.MagicConfigKey != "size" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	for _, key := range []string{"size=", "allocator="} {
		if !strings.Contains(spec.ConfigHelp, key) {
			t.Errorf("config help does not describe %s", key)
		}
	}
}
