package random

import (
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
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
	now := time.Unix(1700000000, 0)
	tests := []struct {
		params []string
		want   Options
	}{
		{nil, Options{Size: 0, Seed: 1700000000}},
		{[]string{"size=1M"}, Options{Size: 1 << 20, Seed: 1700000000}},
		{[]string{"size=1M", "seed=0"}, Options{Size: 1 << 20, Seed: 0}},
		{[]string{"size=1M", "seed=0x10"}, Options{Size: 1 << 20, Seed: 16}},
		{[]string{"size=1M", "seed=4294967295"}, Options{Size: 1 << 20, Seed: 1<<32 - 1}},
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		got, err := optionsFromParams(p, now)
		if err != nil {
			t.Errorf("%q: %v", tt.params, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.params, got, tt.want)
		}
		if unused := p.Unused(); len(unused) > 0 {
			t.Errorf("%q: parameters left unused: %v", tt.params, unused)
		}
	}
}

func TestSpecRefusesBadParameters(t *testing.T) {
	tests := []struct {
		params []string
		want   []string // each in the error
	}{
		{[]string{"size=banana"}, []string{"size=banana", "could not parse"}},
		{[]string{"size=-1"}, []string{"size=-1", "negative"}},
		{[]string{"size=1M", "seed=-1"}, []string{"seed=-1", "negative"}},
		{[]string{"size=1M", "seed=4294967296"}, []string{"seed=4294967296", "out of range"}},
		{[]string{"size=1M", "seed=abc"}, []string{"seed=abc", "could not parse"}},
		{[]string{"size=1M", "percent=1"}, []string{"unknown parameter percent"}},
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
	if spec.Name != "random" || spec.MagicConfigKey != "size" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	for _, key := range []string{"size=", "seed="} {
		if !strings.Contains(spec.ConfigHelp, key) {
			t.Errorf("config help does not describe %s", key)
		}
	}
}
