package partitioning

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

// TestParametersApplyToTheFilesAfterThem checks nbdkit's rule: alignment=, mbr-id= and
// type-guid= change the files that follow them, until given again.
func TestParametersApplyToTheFilesAfterThem(t *testing.T) {
	swap := "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
	swapGUID, _ := ParseGUID(swap)
	p := paramsOf("file=a", "mbr-id=0x82", "type-guid="+swap, "alignment=4k", "file=b",
		"mbr-id=default", "type-guid=default", "file=c", "partition-type=gpt", "mbr-id=131", "file=d", "colour=blue")
	opts, err := optionsFromParams(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{File: "a"},
		{File: "b", MBRType: 0x82, TypeGUID: swapGUID, Alignment: 4096},
		{File: "c", MBRType: 0x83, TypeGUID: linuxFilesystemGUID(), Alignment: 4096},
		{File: "d", MBRType: 131, TypeGUID: linuxFilesystemGUID(), Alignment: 4096},
	}
	if len(opts.Partitions) != len(want) {
		t.Fatalf("partitions %+v", opts.Partitions)
	}
	for i := range want {
		if opts.Partitions[i] != want[i] {
			t.Errorf("partition %d: %+v, want %+v", i+1, opts.Partitions[i], want[i])
		}
	}
	if opts.TableType != TableGPT {
		t.Errorf("table type %q", opts.TableType)
	}
	if unused := p.Unused(); len(unused) != 1 || unused[0].Key != "colour" {
		t.Errorf("unused %v, want colour alone", unused)
	}
}

func TestSpecRefusesBadParameters(t *testing.T) {
	paths, _ := writeFiles(t, 1000)
	f := "file=" + paths[0]
	tests := []struct {
		params []string
		want   []string
	}{
		{nil, []string{"file="}},
		{[]string{"partition-type=gpt"}, []string{"file="}},
		{[]string{f, "alignment=banana"}, []string{"alignment=banana"}},
		{[]string{f, "alignment=1000"}, []string{"alignment=1000", "power of 2"}},
		{[]string{f, "alignment=3072"}, []string{"alignment=3072", "power of 2"}},
		{[]string{f, "alignment=0"}, []string{"alignment=0"}},
		{[]string{f, "alignment=2M"}, []string{"alignment=2M", "1 MiB"}},
		{[]string{f, "mbr-id=banana"}, []string{"mbr-id=banana", "0x83"}},
		{[]string{f, "mbr-id=0x1ff"}, []string{"mbr-id=0x1ff", "range"}},
		{[]string{f, "mbr-id=-1"}, []string{"mbr-id=-1", "negative"}},
		{[]string{f, "mbr-id=0"}, []string{"mbr-id=0", "unused"}},
		{[]string{f, "type-guid=xyz"}, []string{"type-guid=xyz", "GUID"}},
		{[]string{f, "type-guid=00000000-0000-0000-0000-000000000000"}, []string{"type-guid=0000", "unused"}},
		{[]string{f, "partition-type=apm"}, []string{"partition-type=apm", "mbr", "gpt"}},
		{[]string{"file=/nonexistent/disk.img"}, []string{"/nonexistent/disk.img"}},
	}
	for _, tt := range tests {
		plugin, err := Spec().New(paramsOf(tt.params...))
		if err == nil {
			plugin.(*Plugin).Cleanup(context.Background())
			t.Errorf("%v: accepted", tt.params)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tt.params, err, w)
			}
		}
	}
}

func TestSpecDescribesThePlugin(t *testing.T) {
	spec := Spec()
	if spec.Name != "partitioning" || spec.MagicConfigKey != "file" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
	for _, key := range []string{"file=", "partition-type=", "alignment=", "mbr-id=", "type-guid="} {
		if !strings.Contains(spec.ConfigHelp, key) {
			t.Errorf("config help does not describe %s", key)
		}
	}
}
