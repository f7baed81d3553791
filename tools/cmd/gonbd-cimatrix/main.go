package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gonbd/gonbd/tools/internal/workspace"
)

const (
	beginMarker = "# BEGIN MODULES"
	endMarker   = "# END MODULES"
)

func main() {
	dir := flag.String("C", ".", "a directory inside the repository")
	workflow := flag.String("workflow", ".github/workflows/ci.yml", "the workflow `file`, relative to the repository root")
	update := flag.Bool("update", false, "rewrite the workflow's module list from go.work")
	flag.Parse()
	if err := run(*dir, *workflow, *update); err != nil {
		fmt.Fprintf(os.Stderr, "gonbd-cimatrix: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, workflow string, update bool) error {
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return err
	}
	ws, err := workspace.Load(context.Background(), root)
	if err != nil {
		return err
	}
	var want []string
	for _, m := range ws.Modules {
		want = append(want, m.Dir)
	}
	name := filepath.Join(root, filepath.FromSlash(workflow))
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if update {
		out, err := rewrite(string(data), want)
		if err != nil {
			return fmt.Errorf("%s: %w", workflow, err)
		}
		return os.WriteFile(name, []byte(out), 0o644)
	}
	got, err := parse(string(data))
	if err != nil {
		return fmt.Errorf("%s: %w", workflow, err)
	}
	if err := compare(got, want); err != nil {
		return fmt.Errorf("%s: the module matrix differs from go.work (run make ci-matrix-update): %w", workflow, err)
	}
	fmt.Printf("ci-matrix: %s has a job for each of the %d modules of go.work\n", workflow, len(want))
	return nil
}

// block finds the marker lines in text and returns its lines, the index of
// the begin marker and the index of the end marker.
func block(text string) (lines []string, begin, end int, err error) {
	lines = strings.Split(text, "\n")
	begin, end = -1, -1
	for i, l := range lines {
		switch t := strings.TrimSpace(l); {
		case strings.HasPrefix(t, beginMarker):
			if begin >= 0 {
				return nil, 0, 0, fmt.Errorf("line %d: a second %q", i+1, beginMarker)
			}
			begin = i
		case strings.HasPrefix(t, endMarker):
			if end >= 0 {
				return nil, 0, 0, fmt.Errorf("line %d: a second %q", i+1, endMarker)
			}
			end = i
		}
	}
	if begin < 0 || end < 0 || end < begin {
		return nil, 0, 0, fmt.Errorf("no %q ... %q block", beginMarker, endMarker)
	}
	return lines, begin, end, nil
}

// parse returns the module directories listed between the markers: the items
// "- dir" of the sequence under the "module:" key.
func parse(text string) ([]string, error) {
	lines, begin, end, err := block(text)
	if err != nil {
		return nil, err
	}
	var dirs []string
	sawKey := false
	for i := begin + 1; i < end; i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
		case t == "module:":
			sawKey = true
		case strings.HasPrefix(t, "- ") && sawKey:
			item := strings.TrimSpace(strings.TrimPrefix(t, "- "))
			item, _, _ = strings.Cut(item, " #")
			dirs = append(dirs, strings.Trim(strings.TrimSpace(item), `"'`))
		default:
			return nil, fmt.Errorf("line %d: %q is not an item of the module: list", i+1, t)
		}
	}
	if !sawKey {
		return nil, errors.New("no module: key between the markers")
	}
	return dirs, nil
}

// compare returns an error naming what got lacks and what it has too many of.
func compare(got, want []string) error {
	count := make(map[string]int)
	for _, d := range want {
		count[d]++
	}
	for _, d := range got {
		count[d]--
	}
	var missing, extra []string
	for d, n := range count {
		switch {
		case n > 0:
			missing = append(missing, d)
		case n < 0:
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, "no job for "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		msgs = append(msgs, "jobs for modules not in go.work (or listed twice): "+strings.Join(extra, ", "))
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// rewrite returns text with the lines between the markers replaced by a
// "module:" list of dirs, indented like the begin marker.
func rewrite(text string, dirs []string) (string, error) {
	lines, begin, end, err := block(text)
	if err != nil {
		return "", err
	}
	indent := lines[begin][:len(lines[begin])-len(strings.TrimLeft(lines[begin], " "))]
	out := append([]string(nil), lines[:begin+1]...)
	out = append(out, indent+"module:")
	for _, d := range dirs {
		out = append(out, indent+"  - "+d)
	}
	out = append(out, lines[end:]...)
	return strings.Join(out, "\n"), nil
}
