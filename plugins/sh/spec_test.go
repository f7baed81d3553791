package sh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// params turns "key=value" strings into parameters; a string without '=' is a bare
// value, which the command line gives to the magic key, script.
func params(list ...string) []server.Param {
	var out []server.Param
	for _, kv := range list {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			key, value = "script", kv
		}
		out = append(out, server.Param{Key: key, Value: value})
	}
	return out
}

func TestSpecInlineScript(t *testing.T) {
	script := "case \"$1\" in\n  get_size) echo 2k ;;\n  *) exit 2 ;;\nesac\n"
	p := server.NewParams(params("-"), nil)
	plugin, err := spec(strings.NewReader(script)).New(p)
	if err != nil {
		t.Fatal(err)
	}
	if unused := p.Unused(); len(unused) != 0 {
		t.Errorf("parameters left unused: %v", unused)
	}
	sh := plugin.(*Plugin)
	saved := filepath.Join(sh.TmpDir(), inlineScriptName)
	if got, err := os.ReadFile(saved); err != nil || string(got) != script {
		t.Errorf("saved script %q, %v", got, err)
	}
	h, err := sh.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(context.Background()); err != nil || size != 2048 {
		t.Errorf("size %d, %v; want 2048", size, err)
	}
	sh.Cleanup(context.Background())
	if _, err := os.Stat(saved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the inline script outlived Cleanup: %v", err)
	}
}

func TestSpecRefusesEmptyInlineScript(t *testing.T) {
	_, err := spec(strings.NewReader("")).New(server.NewParams(params("-"), nil))
	if err == nil || !strings.Contains(err.Error(), "standard input is empty") {
		t.Errorf("an empty inline script: %v", err)
	}
}

func TestSpecParameters(t *testing.T) {
	s := newScript(t, `magic_config_key) echo disk ;;
config) ;;`)
	link := filepath.Join(t.TempDir(), "link.sh")
	if err := os.Symlink(s.path, link); err != nil {
		t.Fatal(err)
	}
	p := server.NewParams(params(link, "a=1", "disk.img", "script=other.img", "a=2"), nil)
	plugin, err := spec(nil).New(p)
	if err != nil {
		t.Fatal(err)
	}
	plugin.(*Plugin).Cleanup(context.Background())
	if unused := p.Unused(); len(unused) != 0 {
		t.Errorf("parameters left unused: %v", unused)
	}
	want := []string{"config a 1", "config disk disk.img", "config disk other.img", "config a 2"}
	var got []string
	for _, c := range s.calls(t) {
		if strings.HasPrefix(c, "config ") {
			got = append(got, c)
		}
	}
	if !equal(got, want) {
		t.Errorf("config calls %q, want %q (in order, bare values to the magic key)", got, want)
	}
	// The script runs under its real path, symbolic links resolved.
	if exe, err := os.Readlink(link); err != nil || plugin.(*Plugin).scriptFor("get_size") != exe {
		t.Errorf("script path %q, want %q", plugin.(*Plugin).scriptFor("get_size"), exe)
	}
}

func TestSpecRefusesBadParameters(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		params []string
		want   []string
	}{
		{nil, []string{"missing script"}},
		{[]string{"file=disk.img", "script=x.sh"}, []string{"first parameter", "script=", "file=disk.img"}},
		{[]string{filepath.Join(dir, "nope.sh")}, []string{"script=", "nope.sh", "no such file"}},
		{[]string{dir}, []string{"is a directory"}},
		{[]string{"-"}, []string{"standard input"}},
	} {
		_, err := spec(nil).New(server.NewParams(params(tt.params...), nil))
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
