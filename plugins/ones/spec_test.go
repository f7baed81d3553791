package ones

import (
	"strings"
	"testing"

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
	tests := []struct {
		params   []string
		size     int64
		fill     byte
		explicit bool
	}{
		{nil, 0, 0xff, false},
		{[]string{"size=1M"}, 1 << 20, 0xff, false},
		{[]string{"size=1k", "byte=0"}, 1024, 0, true},
		{[]string{"size=1k", "byte=255"}, 1024, 255, true},
		{[]string{"size=1k", "byte=0x5a"}, 1024, 0x5a, true},
		{[]string{"size=1k", "byte=010"}, 1024, 8, true}, // octal, as nbdkit reads it
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		opts, err := optionsFromParams(p)
		if err != nil {
			t.Errorf("%q: %v", tt.params, err)
			continue
		}
		if opts.Size != tt.size || (opts.Byte != nil) != tt.explicit || opts.Byte != nil && *opts.Byte != tt.fill {
			t.Errorf("%q: got %+v", tt.params, opts)
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
		{[]string{"byte=300"}, []string{"byte=300", "out of range", "0 to 255"}},
		{[]string{"byte=-1"}, []string{"byte=-1", "negative"}},
		{[]string{"byte=ff"}, []string{"byte=ff", "could not parse"}},
		{[]string{"byte="}, []string{"byte=", "empty"}},
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
	if spec.Name != "ones" || spec.MagicConfigKey != "size" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	for _, key := range []string{"size=", "byte="} {
		if !strings.Contains(spec.ConfigHelp, key) {
			t.Errorf("config help does not describe %s", key)
		}
	}
}
