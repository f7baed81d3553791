package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree creates files under a new temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func dirs(ms []*Module) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Dir)
	}
	return strings.Join(s, " ")
}

func TestLoadAndSort(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.work": "go 1.24.0\n\nuse (\n\t./cmd/x\n\t./lib\n\t./plugins/p\n)\n",
		"cmd/x/go.mod": "module example.com/r/cmd/x\n\ngo 1.24.0\n\nrequire (\n" +
			"\texample.com/r/plugins/p v0.1.0\n\texample.com/r/lib v0.1.0\n\tgolang.org/x/sys v0.1.0\n)\n",
		"lib/go.mod":       "module example.com/r/lib\n\ngo 1.24.0\n",
		"plugins/p/go.mod": "module example.com/r/plugins/p\n\ngo 1.24.0\n\nrequire example.com/r/lib v0.1.0\n",
		// lib's tests import cmd/x without a requirement on it; the nested
		// module and testdata do not count.
		"lib/lib.go":               "package lib\n\nimport _ \"fmt\"\n",
		"lib/x_test.go":            "package lib_test\n\nimport (\n\t_ \"example.com/r/cmd/x/sub\"\n\t_ \"example.com/r/lib\"\n)\n",
		"lib/testdata/t.go":        "package t\n\nimport _ \"example.com/r/plugins/p\"\n",
		"lib/nested/go.mod":        "module example.com/r/lib/nested\n",
		"lib/nested/n.go":          "package nested\n\nimport _ \"example.com/r/plugins/p\"\n",
		"plugins/p/p.go":           "package p\n\nimport _ \"example.com/r/libx\"\n",
		"plugins/p/broken_test.go": "package p\n\nimport \"example.com/r/lib\"\n\nfunc {",
	})
	ws, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dirs(ws.Modules), "cmd/x lib plugins/p"; got != want {
		t.Errorf("Modules = %s, want %s", got, want)
	}
	x := ws.Module("example.com/r/cmd/x")
	if x == nil || x.Dir != "cmd/x" || x.AbsDir != filepath.Join(root, "cmd", "x") {
		t.Fatalf("Module(cmd/x) = %+v", x)
	}
	if got, want := strings.Join(x.Requires, " "), "example.com/r/lib example.com/r/plugins/p"; got != want {
		t.Errorf("cmd/x Requires = %s, want only the siblings %s", got, want)
	}
	lib := ws.Module("example.com/r/lib")
	if got, want := strings.Join(lib.Imports, " "), "example.com/r/cmd/x"; got != want {
		t.Errorf("lib Imports = %q, want %q", got, want)
	}
	if p := ws.Module("example.com/r/plugins/p"); strings.Join(p.Deps(), " ") != "example.com/r/lib" {
		t.Errorf("plugins/p Deps = %q, want example.com/r/lib", p.Deps())
	}
	// lib imports cmd/x, which requires lib: no release order exists.
	if _, err := ws.Sorted(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Sorted: err = %v, want a cycle error", err)
	}
	os.Remove(filepath.Join(root, "lib", "x_test.go"))
	if ws, err = Load(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	sorted, err := ws.Sorted()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dirs(sorted), "lib plugins/p cmd/x"; got != want {
		t.Errorf("Sorted = %s, want %s", got, want)
	}
}

func TestSortCycle(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.work":  "go 1.24.0\n\nuse ./a\nuse ./b\n",
		"a/go.mod": "module example.com/a\n\ngo 1.24.0\n\nrequire example.com/b v0.1.0\n",
		"b/go.mod": "module example.com/b\n\ngo 1.24.0\n\nrequire example.com/a v0.1.0\n",
	})
	ws, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Sorted(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Sorted of a cycle: err = %v, want a cycle error", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"missing go.mod": {"go.work": "go 1.24.0\n\nuse ./a\n"},
		"outside":        {"go.work": "go 1.24.0\n\nuse ../a\n"},
		"no go.work":     {"a/go.mod": "module example.com/a\n"},
		"duplicate path": {
			"go.work":  "go 1.24.0\n\nuse ./a\nuse ./b\n",
			"a/go.mod": "module example.com/a\n",
			"b/go.mod": "module example.com/a\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(context.Background(), writeTree(t, files)); err == nil {
				t.Error("Load succeeded")
			}
		})
	}
}

func TestFindRoot(t *testing.T) {
	root := writeTree(t, map[string]string{"go.work": "go 1.24.0\n", "a/b/x.txt": ""})
	got, err := FindRoot(filepath.Join(root, "a", "b"))
	if err != nil || got != root {
		t.Errorf("FindRoot = %q, %v; want %q", got, err, root)
	}
	if _, err := FindRoot(t.TempDir()); err == nil {
		t.Error("FindRoot found a go.work where there is none")
	}
}
