package release

import (
	"archive/zip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/tools/internal/run"
	"github.com/gonbd/gonbd/tools/internal/workspace"
)

// fakeRepo creates a git repository with a workspace of two modules, lib and
// app; app imports lib and requires it at a version that was never published.
func fakeRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.work":              "go 1.24.0\n\nuse (\n\t./app\n\t./lib\n)\n",
		".gitignore":           "*.bin\n",
		"lib/go.mod":           "module example.com/r/lib\n\ngo 1.24.0\n",
		"lib/lib.go":           "package lib\n\nconst Answer = 42\n",
		"lib/junk.bin":         "ignored by git, so not packed\n",
		"lib/nested/go.mod":    "module example.com/r/lib/nested\n\ngo 1.24.0\n",
		"lib/nested/nested.go": "package nested\n",
		"app/go.mod":           "module example.com/r/app\n\ngo 1.24.0\n\nrequire example.com/r/lib v0.0.9\n",
		"app/main.go":          "package main\n\nimport \"example.com/r/lib\"\n\nfunc main() { println(lib.Answer) }\n",
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		if _, err := run.Output(context.Background(), root, nil, "git", args...); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	git("add", "lib/go.mod", "lib/lib.go")
	git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "lib")
	git("tag", "lib/v0.1.0")
	git("tag", "lib/v0.1.1")
	return root
}

func TestPlanAndPack(t *testing.T) {
	ctx := context.Background()
	root := fakeRepo(t)
	ws, err := workspace.Load(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range plan {
		got = append(got, r.Module.Dir+"@"+r.Latest+">"+r.Next)
	}
	if g, want := strings.Join(got, " "), "lib@v0.1.1>v0.1.2 app@>v0.1.0"; g != want {
		t.Fatalf("Plan = %s, want %s", g, want)
	}
	if tag := plan[0].Tag(); tag != "lib/v0.1.2" {
		t.Errorf("Tag = %s", tag)
	}

	proxy := t.TempDir()
	if err := Pack(ctx, root, plan, proxy, io.Discard); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(proxy, "example.com/r/app/@v/list"))
	if err != nil || string(list) != "v0.1.0\n" {
		t.Errorf("app list = %q, %v", list, err)
	}
	mod, err := os.ReadFile(filepath.Join(proxy, "example.com/r/app/@v/v0.1.0.mod"))
	if err != nil || !strings.Contains(string(mod), "example.com/r/lib v0.1.2") {
		t.Errorf("app go.mod does not require the packed lib:\n%s%v", mod, err)
	}
	z, err := zip.OpenReader(filepath.Join(proxy, "example.com/r/lib/@v/v0.1.2.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	if g, want := strings.Join(names, " "), "example.com/r/lib@v0.1.2/go.mod example.com/r/lib@v0.1.2/lib.go"; g != want {
		t.Errorf("lib zip holds %s, want %s (no ignored file, no nested module)", g, want)
	}
}

func TestPackRejectsReplace(t *testing.T) {
	ctx := context.Background()
	root := fakeRepo(t)
	gomod := filepath.Join(root, "app", "go.mod")
	data, _ := os.ReadFile(gomod)
	os.WriteFile(gomod, append(data, "replace example.com/r/lib => ../lib\n"...), 0o644)
	ws, err := workspace.Load(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	err = Pack(ctx, root, plan, t.TempDir(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "replace") || !strings.Contains(err.Error(), "app") {
		t.Errorf("Pack with a replace directive: err = %v", err)
	}
}

func TestSetEnv(t *testing.T) {
	got := strings.Join(SetEnv([]string{"A=1", "B=2", "C=3"}, "B=x", "D=4"), " ")
	if want := "A=1 C=3 B=x D=4"; got != want {
		t.Errorf("SetEnv = %s, want %s", got, want)
	}
}
