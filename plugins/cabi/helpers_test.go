//go:build cgo && unix

package cabi

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildPlugin compiles testdata/NAME.c into a shared object in a temporary
// directory: each test gets its own copy, so its own instance of the plugin's
// global state. It skips without gcc or nbdkit's header.
func buildPlugin(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	if _, err := os.Stat("/usr/include/nbdkit-plugin.h"); err != nil {
		t.Skip("nbdkit-plugin.h is not installed (nbdkit-plugin-dev)")
	}
	out := filepath.Join(t.TempDir(), name+".so")
	cmd := exec.Command("gcc", "-shared", "-fPIC", "-Wall", "-O1", "-o", out, filepath.Join("testdata", name+".c"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", name, err, msg)
	}
	return out
}

// load builds and loads a test plugin.
func load(t *testing.T, name string, opts Options) *Library {
	t.Helper()
	l, err := Load(buildPlugin(t, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
