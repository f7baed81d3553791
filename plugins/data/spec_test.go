package data

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestSpecParameters checks how the command line's parameters become Options.
func TestSpecParameters(t *testing.T) {
	tests := []struct {
		args []string
		want Options
	}{
		{[]string{"data=1 2"}, Options{Data: "1 2", Variables: map[string]string{}}},
		{[]string{"data=$a", "a=1", "b-c=2", "a=3"}, Options{Data: "$a", Variables: map[string]string{"a": "3", "b-c": "2"}}},
		{[]string{"raw=xyz", "size=1M"}, Options{Raw: []byte("xyz"), Size: 1 << 20, HasSize: true, Variables: map[string]string{}}},
		{[]string{"base64=eHl6", "size=0"}, Options{Raw: []byte("xyz"), HasSize: true, Variables: map[string]string{}}},
		{[]string{"data=", "allocator=malloc,mlock=true"}, Options{Allocator: "malloc", Mlock: true, Variables: map[string]string{}}},
		{[]string{"data=", "allocator=malloc,mlock=off"}, Options{Allocator: "malloc", Variables: map[string]string{}}},
		{[]string{"data=", "allocator=zstd"}, Options{Allocator: "zstd", Variables: map[string]string{}}},
	}
	for _, tt := range tests {
		p := server.NewParams(params(tt.args...), nil)
		got, err := optionsFromParams(p)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if got.LookupEnv == nil {
			t.Errorf("%q: the command line does not look variables up in the environment", tt.args)
		}
		got.LookupEnv, got.Logger = nil, nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, got, tt.want)
		}
		if unused := p.Unused(); len(unused) > 0 {
			t.Errorf("%q: parameters left unused: %v", tt.args, unused)
		}
	}
}

// TestSpecRefusesBadParameters checks that the command line's mistakes are refused as
// the gonbd command would refuse them, saying which parameter is wrong and why.
func TestSpecRefusesBadParameters(t *testing.T) {
	tests := []struct {
		args []string
		want []string // each in the error
	}{
		{nil, []string{"data=", "raw=", "base64=", "exactly once"}},
		{[]string{"size=1M"}, []string{"exactly once"}},
		{[]string{"data=1", "data=2"}, []string{"exactly once"}},
		{[]string{"data=1", "raw=2"}, []string{"exactly once"}},
		{[]string{"data=1", "size=banana"}, []string{"size=banana", "could not parse"}},
		{[]string{"data=1", "size=-5"}, []string{"size=-5", "negative"}},
		{[]string{"data=1", "allocator=bogus"}, []string{`unknown allocator "bogus"`}},
		{[]string{"data=1", "allocator=sparse,mlock=true"}, []string{"allocator=sparse does not take extra parameters"}},
		{[]string{"data=1", "allocator=malloc,mlock=perhaps"}, []string{"mlock=perhaps"}},
		{[]string{"data=1", "allocator=malloc,swap=1"}, []string{"unknown parameter swap"}},
		{[]string{"base64=not base64!"}, []string{"base64=", "invalid base64"}},
		{[]string{"raw=1", "colour=red"}, []string{"unknown parameter colour", "only data= has"}},
		{[]string{"data=1 2 (3"}, []string{"data parameter at offset 4", "unmatched '('"}},
		{[]string{"data=$missing"}, []string{"$missing: variable not found", "missing=..."}},
	}
	for _, tt := range tests {
		_, err := servertest.Stack(Spec(), nil, tt.args...)
		if err == nil {
			t.Errorf("%q: accepted", tt.args)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tt.args, err, w)
			}
		}
	}
}

// TestSpecMagicKey checks that a bare value is the data, as in `gonbd data '1 2 3'`.
func TestSpecMagicKey(t *testing.T) {
	layer, err := servertest.Stack(Spec(), nil, "1 2 3")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := layer.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	defer layer.Cleanup(ctx)
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(ctx); err != nil || size != 3 {
		t.Fatalf("size %d, %v; want 3", size, err)
	}
}

// TestDumpPlugin checks the lines --dump-plugin adds, with nbdkit's keys.
func TestDumpPlugin(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	p.DumpPlugin(&b)
	want := "data_base64=yes\nmlock=" + yesNo(canLockMemory) + "\nzstd=no\n"
	if b.String() != want {
		t.Fatalf("dump %q, want %q", b.String(), want)
	}
}
