package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testWorkspace(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range map[string]string{
		"go.work":        "go 1.24.0\n\nuse (\n\t./a\n\t./b\n\t./c\n)\n",
		"a/go.mod":       "module example.com/a\n\ngo 1.24.0\n\nrequire example.com/c v0.1.0\n",
		"b/go.mod":       "module example.com/b\n",
		"b/fail":         "",
		"c/go.mod":       "module example.com/c\n",
		"c/fail":         "",
		"not-in-work/go": "",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestEach(t *testing.T) {
	root := testWorkspace(t)
	var stdout, stderr bytes.Buffer
	failed, err := each(context.Background(), root, true,
		[]string{"sh", "-c", "basename $PWD; test ! -e fail"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	// c before a, which requires it.
	if got, want := strings.Fields(stdout.String()), "c a b"; strings.Join(got, " ") != want {
		t.Errorf("ran in %v, want %s", got, want)
	}
	if got, want := strings.Join(failed, " "), "c b"; got != want {
		t.Errorf("failed = %s, want %s", got, want)
	}
	if !strings.Contains(stderr.String(), "==> c: FAILED") {
		t.Errorf("stderr does not name the failing module:\n%s", stderr.String())
	}

	stdout.Reset()
	failed, err = each(context.Background(), root, false,
		[]string{"sh", "-c", "basename $PWD; test ! -e fail"}, &stdout, &stderr)
	if err != nil || strings.Join(failed, " ") != "c" || strings.TrimSpace(stdout.String()) != "c" {
		t.Errorf("-k=false: failed = %v, err = %v, ran in %q; want a stop after c", failed, err, stdout.String())
	}
}

func TestEachCannotRun(t *testing.T) {
	root := testWorkspace(t)
	if _, err := each(context.Background(), root, true, []string{"/nonexistent/command"}, new(bytes.Buffer), new(bytes.Buffer)); err == nil {
		t.Error("each of a missing command returned no error")
	}
}
