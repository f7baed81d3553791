//go:build cgo && unix

package cabi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
)

func TestLoadNamesMissingSymbol(t *testing.T) {
	_, err := Load(buildPlugin(t, "missing"), Options{})
	if err == nil || !strings.Contains(err.Error(), "nbdkit_no_such_function") {
		t.Fatalf("Load: %v, want an error naming nbdkit_no_such_function", err)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error %T is not a *LoadError", err)
	}
}

func TestLoadRefusesWhatIsNotAPlugin(t *testing.T) {
	notSO := filepath.Join(t.TempDir(), "empty.so")
	if err := os.WriteFile(notSO, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{notSO, filepath.Join(t.TempDir(), "absent.so"), "/lib/x86_64-linux-gnu/libm.so.6"} {
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			continue
		}
		if _, err := Load(path, Options{}); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s): %v, want an error naming the path", path, err)
		}
	}
}

func TestSpecComesFromTheStruct(t *testing.T) {
	l := load(t, "ramdisk", Options{})
	spec := l.Spec()
	if spec.Name != "ramdisk" || spec.Version != "1.0" || spec.MagicConfigKey != "size" ||
		spec.Description != "a RAM disk for gonbd's cabi tests" || !strings.Contains(spec.ConfigHelp, "fail=OFFSET") {
		t.Errorf("spec = %+v", spec)
	}
	if l.APIVersion() != 2 {
		t.Errorf("APIVersion = %d, want 2", l.APIVersion())
	}
	if got := l.ThreadModel(); got != server.Parallel {
		t.Errorf("ThreadModel = %v, want Parallel", got)
	}
	v1 := load(t, "v1", Options{})
	if v1.APIVersion() != 1 || v1.ThreadModel() != server.SerializeAllRequests {
		t.Errorf("v1: APIVersion %d, ThreadModel %v", v1.APIVersion(), v1.ThreadModel())
	}
}

func TestConfigErrorsCarryThePluginsMessage(t *testing.T) {
	tests := []struct{ param, want string }{
		{"size=banana", "size=banana"},
		{"size=banana", "could not parse size"},
		{"fail=-1", "negative numbers are not allowed"},
		{"fail=12x", "trailing garbage"},
		{"readonly=maybe", "could not decipher boolean (maybe)"},
		{"colour=blue", "unknown parameter 'colour'"},
	}
	for _, tt := range tests {
		l := load(t, "ramdisk", Options{})
		_, err := stackOf(l, tt.param)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.param, err, tt.want)
		}
	}
}

func stackOf(l *Library, params ...string) (server.Layer, error) {
	list := make([]server.Param, len(params))
	for i, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		list[i] = server.Param{Key: k, Value: v}
	}
	return server.NewStack(l.Spec(), nil, list, nil)
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	want := filepath.Join(dir, "nbdkit-thing-plugin.so")
	if err := os.WriteFile(want, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Find("thing", t.TempDir(), dir); err != nil || got != want {
		t.Errorf("Find = %q, %v; want %q", got, err, want)
	}
	for _, name := range []string{"other", "", "../thing", "a/b"} {
		if _, err := Find(name, dir); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q): %v, want ErrNotFound", name, err)
		}
	}
	for operand, want := range map[string]bool{"python": false, "./x.so": true, "x.so": true, "/usr/lib/p": true, "memory": false} {
		if IsPath(operand) != want {
			t.Errorf("IsPath(%q) = %v", operand, !want)
		}
	}
}
