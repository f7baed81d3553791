package main

import (
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gonbd/gonbd/tools/internal/workspace"
)

// target is one fuzz test.
type target struct {
	Dir  string // the package directory
	Name string // FuzzXxx
}

func main() {
	dir := flag.String("C", ".", "a directory inside the repository")
	fuzztime := flag.Duration("fuzztime", 60*time.Second, "how long to fuzz each test")
	listOnly := flag.Bool("list", false, "print the fuzz tests; do not run them")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := fuzzAll(ctx, *dir, *fuzztime, *listOnly, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "gonbd-fuzz: %v\n", err)
		os.Exit(1)
	}
}

func fuzzAll(ctx context.Context, dir string, fuzztime time.Duration, listOnly bool, stdout, stderr io.Writer) error {
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return err
	}
	ws, err := workspace.Load(ctx, root)
	if err != nil {
		return err
	}
	var targets []target
	for _, m := range ws.Modules {
		t, err := findTargets(m.AbsDir)
		if err != nil {
			return fmt.Errorf("module %s: %w", m.Dir, err)
		}
		targets = append(targets, t...)
	}
	var failed []string
	for _, t := range targets {
		rel, err := filepath.Rel(root, t.Dir)
		if err != nil {
			rel = t.Dir
		}
		if listOnly {
			fmt.Fprintf(stdout, "%s %s\n", rel, t.Name)
			continue
		}
		fmt.Fprintf(stderr, "==> %s: %s for %v\n", rel, t.Name, fuzztime)
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+t.Name+"$", "-fuzztime", fuzztime.String(), ".")
		cmd.Dir = t.Dir
		cmd.Stdout = stdout
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "==> %s: %s FAILED (%v)\n", rel, t.Name, err)
			failed = append(failed, rel+" "+t.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d fuzz tests failed:\n\t%s", len(failed), len(targets), strings.Join(failed, "\n\t"))
	}
	if !listOnly {
		fmt.Fprintf(stderr, "gonbd-fuzz: %d fuzz tests ran for %v each without failing\n", len(targets), fuzztime)
	}
	return nil
}

// findTargets returns the fuzz tests in the packages of the module at
// modDir, sorted by directory and name. Directories that the go command
// ignores (testdata, vendor, names starting with "." or "_") and nested
// modules, which are walked as modules of their own, are skipped.
func findTargets(modDir string) ([]target, error) {
	var targets []target
	fset := token.NewFileSet()
	err := filepath.WalkDir(modDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != modDir && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if p != modDir {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && isFuzzTest(fn) {
				targets = append(targets, target{Dir: filepath.Dir(p), Name: fn.Name.Name})
			}
		}
		return nil
	})
	sort.Slice(targets, func(i, j int) bool {
		if targets[i].Dir != targets[j].Dir {
			return targets[i].Dir < targets[j].Dir
		}
		return targets[i].Name < targets[j].Name
	})
	return targets, err
}

// isFuzzTest reports whether fn has the shape go test runs as a fuzz test:
// a function named Fuzz or FuzzXxx (Xxx not starting with a lower-case
// letter) taking one *testing.F.
func isFuzzTest(fn *ast.FuncDecl) bool {
	if fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Fuzz") {
		return false
	}
	if rest := fn.Name.Name[len("Fuzz"):]; rest != "" {
		if r, _ := utf8.DecodeRuneInString(rest); unicode.IsLower(r) {
			return false
		}
	}
	params := fn.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}
