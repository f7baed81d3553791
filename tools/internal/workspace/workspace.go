package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gonbd/gonbd/tools/internal/run"
	"golang.org/x/mod/modfile"
)

// Module is one module of the workspace.
type Module struct {
	// Dir is the module's directory relative to the workspace root, in
	// slash form and without a leading "./", e.g. "plugins/memory". It is
	// also the prefix of the module's release tags.
	Dir string
	// Path is the module path declared in its go.mod.
	Path string
	// AbsDir is the module's directory on disk.
	AbsDir string
	// Requires lists the module paths of the sibling modules that its
	// go.mod requires, sorted.
	Requires []string
	// Imports lists the module paths of the sibling modules whose packages
	// its Go files (tests included) import, sorted. It may name siblings
	// that Requires lacks: in the workspace, an import resolves without a
	// requirement.
	Imports []string
}

// Workspace is the set of modules that a go.work file uses.
type Workspace struct {
	// Root is the directory holding go.work.
	Root string
	// Modules are in go.work's order.
	Modules []*Module
}

// Load reads root/go.work with "go work edit -json", the go command's own
// reading of the file, and the go.mod of every module it uses.
func Load(ctx context.Context, root string) (*Workspace, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	out, err := run.Output(ctx, root, nil, "go", "work", "edit", "-json", filepath.Join(root, "go.work"))
	if err != nil {
		return nil, fmt.Errorf("reading go.work: %w", err)
	}
	var work struct {
		Use []struct{ DiskPath string }
	}
	if err := json.Unmarshal(out, &work); err != nil {
		return nil, fmt.Errorf("decoding go work edit -json: %w", err)
	}
	ws := &Workspace{Root: root}
	for _, u := range work.Use {
		m, err := loadModule(root, u.DiskPath)
		if err != nil {
			return nil, err
		}
		ws.Modules = append(ws.Modules, m)
	}
	// Requirements on siblings are known only once every path is.
	paths := make(map[string]bool)
	for _, m := range ws.Modules {
		if paths[m.Path] {
			return nil, fmt.Errorf("go.work uses module %s twice", m.Path)
		}
		paths[m.Path] = true
	}
	for _, m := range ws.Modules {
		f, err := parseGoMod(m.AbsDir)
		if err != nil {
			return nil, err
		}
		for _, r := range f.Require {
			if paths[r.Mod.Path] {
				m.Requires = append(m.Requires, r.Mod.Path)
			}
		}
		sort.Strings(m.Requires)
		if m.Imports, err = siblingImports(m, ws.Modules); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// siblingImports returns the paths of the modules of mods, other than m,
// that the Go files of m import. It parses the import blocks only, so code
// that does not compile yet still has its dependencies found.
func siblingImports(m *Module, mods []*Module) ([]string, error) {
	found := make(map[string]bool)
	fset := token.NewFileSet()
	err := filepath.WalkDir(m.AbsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == m.AbsDir {
				return nil
			}
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("module %s: %w", m.Dir, err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			if owner := owningModule(path, mods); owner != nil && owner != m {
				found[owner.Path] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var paths []string
	for p := range found {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// owningModule returns the module of mods that provides the package with
// import path pkg: the one with the longest module path that is pkg or a
// prefix of it ending at a slash. It returns nil for packages of other
// modules.
func owningModule(pkg string, mods []*Module) *Module {
	var best *Module
	for _, m := range mods {
		if (pkg == m.Path || strings.HasPrefix(pkg, m.Path+"/")) && (best == nil || len(m.Path) > len(best.Path)) {
			best = m
		}
	}
	return best
}

func loadModule(root, diskPath string) (*Module, error) {
	if filepath.IsAbs(diskPath) {
		return nil, fmt.Errorf("go.work uses %s: modules must be inside the repository, by relative path", diskPath)
	}
	dir := path.Clean(filepath.ToSlash(diskPath))
	if dir == ".." || strings.HasPrefix(dir, "../") {
		return nil, fmt.Errorf("go.work uses %s: modules must be inside the repository", diskPath)
	}
	abs := filepath.Join(root, filepath.FromSlash(dir))
	f, err := parseGoMod(abs)
	if err != nil {
		return nil, err
	}
	if f.Module == nil {
		return nil, fmt.Errorf("%s/go.mod has no module line", dir)
	}
	return &Module{Dir: dir, Path: f.Module.Mod.Path, AbsDir: abs}, nil
}

func parseGoMod(dir string) (*modfile.File, error) {
	name := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := modfile.ParseLax(name, data, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", name, err)
	}
	return f, nil
}

// Deps returns the module paths of the siblings that m requires or imports,
// sorted and without duplicates.
func (m *Module) Deps() []string {
	seen := make(map[string]bool)
	var deps []string
	for _, p := range append(append([]string(nil), m.Requires...), m.Imports...) {
		if !seen[p] {
			seen[p] = true
			deps = append(deps, p)
		}
	}
	sort.Strings(deps)
	return deps
}

// Module returns the module with the given module path, or nil.
func (ws *Workspace) Module(modPath string) *Module {
	for _, m := range ws.Modules {
		if m.Path == modPath {
			return m
		}
	}
	return nil
}

// Sorted returns the modules so that each comes after every sibling it
// requires or imports, and otherwise in directory order, so the result is
// stable. It fails on a cycle, which no release order can satisfy: the
// first module released would need a version of another that does not
// exist yet.
func (ws *Workspace) Sorted() ([]*Module, error) {
	byDir := append([]*Module(nil), ws.Modules...)
	sort.Slice(byDir, func(i, j int) bool { return byDir[i].Dir < byDir[j].Dir })

	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[*Module]int)
	var order []*Module
	var visit func(m *Module, stack []string) error
	visit = func(m *Module, stack []string) error {
		switch state[m] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("modules require each other in a cycle: %s", strings.Join(append(stack, m.Dir), " -> "))
		}
		state[m] = visiting
		for _, r := range m.Deps() {
			if err := visit(ws.Module(r), append(stack, m.Dir)); err != nil {
				return err
			}
		}
		state[m] = done
		order = append(order, m)
		return nil
	}
	for _, m := range byDir {
		if err := visit(m, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// FindRoot returns the nearest directory at or above dir that holds a
// go.work file.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or any directory above it", dir)
		}
	}
}
