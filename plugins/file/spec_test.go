package file

import (
	"os"
	"path/filepath"
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
		params []string
		want   Options
	}{
		{[]string{"file=disk.img"}, Options{File: "disk.img"}},
		{[]string{"file=a", "file=b"}, Options{File: "b"}}, // the last one wins
		{[]string{"dir=/srv"}, Options{Dir: "/srv"}},
		{[]string{"file=x", "cache=none"}, Options{File: "x", NoCache: true}},
		{[]string{"file=x", "cache=default"}, Options{File: "x"}},
		{[]string{"file=x", "fadvise=random"}, Options{File: "x", Advice: AdviceRandom}},
		{[]string{"file=x", "fadvise=sequential"}, Options{File: "x", Advice: AdviceSequential}},
		{[]string{"file=x", "fadvise=normal"}, Options{File: "x"}},
	}
	for _, tt := range tests {
		p := paramsOf(tt.params...)
		got, err := optionsFromParams(p)
		if err != nil {
			t.Errorf("%v: %v", tt.params, err)
			continue
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
	dir := t.TempDir()
	file := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(file, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	haveFIFO := mkfifo(fifo) == nil

	tests := []struct {
		params []string
		want   []string // each in the error
	}{
		{nil, []string{"missing parameter", "file=", "dir=", "fd=", "dirfd="}},
		{[]string{"cache=none"}, []string{"missing parameter"}},
		{[]string{"file=" + file, "dir=" + dir}, []string{"only one of file=, dir=, fd= and dirfd="}},
		{[]string{"file="}, []string{"file= is empty"}},
		{[]string{"dir="}, []string{"dir= is empty"}},
		{[]string{"file=/nonexistent"}, []string{"file=/nonexistent", "no such file or directory"}},
		{[]string{"file=" + dir}, []string{"file=" + dir, "is a directory", "dir="}},
		{[]string{"dir=/nonexistent"}, []string{"dir=/nonexistent", "no such file or directory"}},
		{[]string{"dir=" + file}, []string{"dir=" + file, "not a directory"}},
		{[]string{"file=" + file, "cache=banana"}, []string{"cache=banana", "default or none"}},
		{[]string{"file=" + file, "fadvise=often"}, []string{"fadvise=often", "normal, random or sequential"}},
		{[]string{"fd=banana"}, []string{"fd=banana"}},
		{[]string{"fd=-1"}, []string{"fd=-1", "negative"}},
		{[]string{"dirfd=x1"}, []string{"dirfd=x1"}},
		{[]string{"file=" + file, "colour=blue"}, []string{"unknown parameter colour"}},
	}
	if haveFIFO {
		tests = append(tests, struct {
			params []string
			want   []string
		}{[]string{"file=" + fifo}, []string{"file=" + fifo, "not a regular file or block device", "named pipe"}})
	}
	if descriptorsSupported {
		tests = append(tests, struct {
			params []string
			want   []string
		}{[]string{"fd=987654"}, []string{"fd=987654", "bad file descriptor"}})
	}
	for _, tt := range tests {
		_, err := servertest.Stack(Spec(), nil, tt.params...)
		if err == nil {
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

// TestMagicKey checks that a bare path means file=PATH, as in nbdkit.
func TestMagicKey(t *testing.T) {
	path := writeTestFile(t, []byte("magic"))
	layer, err := servertest.Stack(Spec(), nil, path)
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Cleanup(t.Context())
	h, err := layer.Open(t.Context(), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if size, _ := h.Size(t.Context()); size != 5 {
		t.Errorf("size %d, want 5", size)
	}
	h.Close(t.Context())
}

// TestRelativePath checks that a relative file= is resolved once, at start-up, so
// that the server's working directory changing later does not matter.
func TestRelativePath(t *testing.T) {
	path := writeTestFile(t, []byte("relative"))
	t.Chdir(filepath.Dir(path))
	p := newTestPlugin(t, Options{File: filepath.Base(path)})
	t.Chdir(t.TempDir())
	h := openLayer(t, p, "", true)
	if got := mustReadAt(t, h, 0, 8); string(got) != "relative" {
		t.Errorf("read %q", got)
	}
}
