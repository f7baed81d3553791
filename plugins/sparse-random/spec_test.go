package sparserandom

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
		share  float64 // -1: Percent nil
	}{
		{nil, Options{Seed: 1700000000, RunLength: 16 << 20}, -1},
		{[]string{"size=1T", "seed=7"}, Options{Size: 1 << 40, Seed: 7, RunLength: 16 << 20}, -1},
		{[]string{"size=1M", "percent=0"}, Options{Size: 1 << 20, Seed: 1700000000, RunLength: 16 << 20}, 0},
		{[]string{"size=1M", "percent=100"}, Options{Size: 1 << 20, Seed: 1700000000, RunLength: 16 << 20}, 100},
		{[]string{"size=1M", "percent=2.5", "runlength=1M"}, Options{Size: 1 << 20, Seed: 1700000000, RunLength: 1 << 20}, 2.5},
		{[]string{"size=1M", "runlength=65536", "random-content=true"}, Options{Size: 1 << 20, Seed: 1700000000, RunLength: 65536, RandomContent: true}, -1},
		{[]string{"size=1M", "runlength=100", "random-content=off"}, Options{Size: 1 << 20, Seed: 1700000000, RunLength: 100}, -1},
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		got, err := optionsFromParams(p, now)
		if err != nil {
			t.Errorf("%q: %v", tt.params, err)
			continue
		}
		share := -1.0
		if got.Percent != nil {
			share = *got.Percent
		}
		got.Percent = nil
		if got != tt.want || share != tt.share {
			t.Errorf("%q: got %+v with percent %v, want %+v with %v", tt.params, got, share, tt.want, tt.share)
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
		{[]string{"size=1M", "percent=200"}, []string{"percent=200", "between 0 and 100"}},
		{[]string{"size=1M", "percent=-1"}, []string{"percent=-1", "between 0 and 100"}},
		{[]string{"size=1M", "percent=NaN"}, []string{"percent=NaN", "between 0 and 100"}},
		{[]string{"size=1M", "percent=ten"}, []string{"percent=ten", "not a number"}},
		{[]string{"size=1M", "percent=10%"}, []string{"percent=10%", "not a number"}},
		{[]string{"size=1M", "runlength=0"}, []string{"runlength=0", "more than 0"}},
		{[]string{"size=1M", "runlength=long"}, []string{"runlength=long", "could not parse"}},
		{[]string{"size=1M", "random-content=maybe"}, []string{"random-content=maybe", "boolean"}},
		{[]string{"size=1M", "mode=time"}, []string{"unknown parameter mode"}},
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
	if spec.Name != "sparse-random" || spec.MagicConfigKey != "size" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	for _, key := range []string{"size=", "seed=", "percent=", "runlength=", "random-content="} {
		if !strings.Contains(spec.ConfigHelp, key) {
			t.Errorf("config help does not describe %s", key)
		}
	}
}
