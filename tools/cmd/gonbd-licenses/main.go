package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gonbd/gonbd/tools/internal/license"
	"github.com/gonbd/gonbd/tools/internal/run"
	"github.com/gonbd/gonbd/tools/internal/workspace"
)

func main() {
	dir := flag.String("C", ".", "a directory inside the repository")
	verbose := flag.Bool("v", false, "print every dependency and its licence")
	flag.Parse()
	if err := check(context.Background(), *dir, *verbose, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "gonbd-licenses: %v\n", err)
		os.Exit(1)
	}
}

// dep is a module version that a gonbd module links.
type dep struct {
	Path, Version, Dir string
	// Users are the directories of the gonbd modules that link it.
	Users []string
}

func check(ctx context.Context, dir string, verbose bool, w io.Writer) error {
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return err
	}
	ws, err := workspace.Load(ctx, root)
	if err != nil {
		return err
	}
	own, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		return fmt.Errorf("the repository has no LICENSE: %w", err)
	}
	if id, err := license.Classify(string(own)); id != license.BSD3 {
		return fmt.Errorf("LICENSE is not BSD-3-Clause (%q, %v)", id, err)
	}

	var problems []string
	deps := make(map[string]*dep) // by path@version
	for _, m := range ws.Modules {
		copyOK, err := sameFile(filepath.Join(m.AbsDir, "LICENSE"), own)
		if err != nil || !copyOK {
			problems = append(problems, fmt.Sprintf("module %s: %s/LICENSE must be a copy of the repository's LICENSE (cp LICENSE %s/)", m.Dir, m.Dir, m.Dir))
		}
		mdeps, err := listDeps(ctx, m.AbsDir)
		if err != nil {
			problems = append(problems, fmt.Sprintf("module %s: listing its dependencies: %v", m.Dir, err))
			continue
		}
		for _, d := range mdeps {
			if ws.Module(d.Path) != nil {
				continue // ours: its LICENSE is checked above
			}
			key := d.Path + "@" + d.Version
			if deps[key] == nil {
				deps[key] = d
			}
			deps[key].Users = append(deps[key].Users, m.Dir)
		}
	}

	keys := make([]string, 0, len(deps))
	for k := range deps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, k := range keys {
		d := deps[k]
		id, err := moduleLicense(ctx, root, d)
		if err != nil {
			problems = append(problems, fmt.Sprintf("dependency %s (linked by %s): %v", k, strings.Join(d.Users, ", "), err))
			continue
		}
		if verbose {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k, id, strings.Join(d.Users, " "))
		}
	}
	tw.Flush()
	if len(problems) > 0 {
		return fmt.Errorf("%d licence problems:\n\t%s", len(problems), strings.Join(problems, "\n\t"))
	}
	fmt.Fprintf(w, "licenses: %d modules carry the repository's LICENSE; their %d dependencies are all permissive\n", len(ws.Modules), len(deps))
	return nil
}

func sameFile(name string, want []byte) (bool, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return false, err
	}
	return bytes.Equal(data, want), nil
}

// listDeps returns the modules providing the packages, test packages
// included, that the module in dir builds, as the go command resolves them
// there (in the workspace).
func listDeps(ctx context.Context, dir string) ([]*dep, error) {
	out, err := run.Output(ctx, dir, nil, "go", "list", "-deps", "-test",
		"-f", "{{with .Module}}{{.Path}} {{.Version}} {{.Dir}}{{end}}", "./...")
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var deps []*dep
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		// The directory is last and may hold spaces.
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("unexpected go list output %q", line)
		}
		deps = append(deps, &dep{Path: f[0], Version: f[1], Dir: f[2]})
	}
	return deps, sc.Err()
}

// moduleLicense classifies the licence files at the root of d.
func moduleLicense(ctx context.Context, root string, d *dep) (string, error) {
	if d.Dir == "" {
		// Listed but not extracted in the module cache: download it.
		out, err := run.Output(ctx, root, nil, "go", "mod", "download", "-json", d.Path+"@"+d.Version)
		if err != nil {
			return "", err
		}
		var info struct{ Dir string }
		if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
			return "", fmt.Errorf("go mod download -json gave no directory (%v)", err)
		}
		d.Dir = info.Dir
	}
	entries, err := os.ReadDir(d.Dir)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() || !license.IsLicenseFile(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d.Dir, e.Name()))
		if err != nil {
			return "", err
		}
		id, err := license.Classify(string(data))
		if err != nil {
			return "", fmt.Errorf("%s: %w", e.Name(), err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("no LICENSE, LICENCE or COPYING file in %s", d.Dir)
	}
	return strings.Join(ids, ", "), nil
}
