package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonbd/gonbd/tools/internal/run"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Pack writes every module of plan at its Next version into proxyDir, laid out
// as a module proxy: <escaped path>/@v/list, and <version>.info, .mod and
// .zip beside it. plan must be in dependency order, as Plan returns it.
//
// Each module is packed from a copy of the files git would commit (tracked
// files and untracked ones that are not ignored), in which the requirements on
// siblings are set to the versions being packed and "go mod tidy" has run
// against the modules packed before it, as the release procedure does before
// tagging. A module that cannot be tidied that way cannot be released.
// Progress goes to log.
func Pack(ctx context.Context, root string, plan []Release, proxyDir string, log io.Writer) (err error) {
	work, err := os.MkdirTemp("", "gonbd-pack-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := RemoveAll(work); rerr != nil && err == nil {
			err = fmt.Errorf("removing %s: %w", work, rerr)
		}
	}()
	versions := make(map[string]string)
	for _, r := range plan {
		versions[r.Module.Path] = r.Next
	}
	env, err := ProxyEnv(ctx, proxyDir, filepath.Join(work, "modcache"), Paths(plan))
	if err != nil {
		return err
	}
	for _, r := range plan {
		fmt.Fprintf(log, "pack: %s %s\n", r.Module.Path, r.Next)
		if err := packOne(ctx, root, r, versions, filepath.Join(work, filepath.FromSlash(r.Module.Dir)), proxyDir, env); err != nil {
			return fmt.Errorf("packing module %s (%s): %w", r.Module.Dir, r.Module.Path, err)
		}
	}
	return nil
}

// Paths returns the module paths of plan.
func Paths(plan []Release) []string {
	var paths []string
	for _, r := range plan {
		paths = append(paths, r.Module.Path)
	}
	return paths
}

func packOne(ctx context.Context, root string, r Release, versions map[string]string, dir, proxyDir string, env []string) error {
	if err := copyModule(ctx, root, r.Module.Dir, dir); err != nil {
		return err
	}
	if err := setSiblingRequirements(filepath.Join(dir, "go.mod"), versions); err != nil {
		return err
	}
	if _, err := run.Output(ctx, dir, env, "go", "mod", "tidy"); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	mv := module.Version{Path: r.Module.Path, Version: r.Next}
	return writeToProxy(proxyDir, mv, gomod, dir)
}

// copyModule copies to dst the files of the module in directory dir (relative
// to the repository root) that git would commit, leaving out nested modules.
func copyModule(ctx context.Context, root, dir, dst string) error {
	out, err := run.Output(ctx, root, nil, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", dir)
	if err != nil {
		return err
	}
	var files []string
	nested := make(map[string]bool)
	for _, f := range strings.Split(string(out), "\x00") {
		rel, ok := strings.CutPrefix(f, dir+"/")
		if !ok {
			continue
		}
		if path.Base(rel) == "go.mod" && rel != "go.mod" {
			nested[path.Dir(rel)] = true
		}
		files = append(files, rel)
	}
	for _, rel := range files {
		if inNested(rel, nested) {
			continue
		}
		src := filepath.Join(root, filepath.FromSlash(dir), filepath.FromSlash(rel))
		info, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue // the module zip holds regular files only
		}
		if err := copyFile(src, filepath.Join(dst, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err != nil {
		return fmt.Errorf("git lists no go.mod in %s (is it ignored?): %w", dir, err)
	}
	return nil
}

func inNested(rel string, nested map[string]bool) bool {
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		if nested[d] {
			return true
		}
	}
	return false
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// setSiblingRequirements sets every requirement of the go.mod file at name on
// a module of versions to the version there. Requirements on siblings that
// the module imports but does not require yet are left to "go mod tidy",
// which finds each at the only version the packed proxy lists.
func setSiblingRequirements(name string, versions map[string]string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return err
	}
	for _, r := range f.Require {
		if v, ok := versions[r.Mod.Path]; ok {
			if err := f.AddRequire(r.Mod.Path, v); err != nil {
				return err
			}
		}
	}
	if len(f.Replace) > 0 {
		// A replace directive is ignored by "go install pkg@version" and by
		// every module that requires this one: a release must not need one.
		return fmt.Errorf("%s: replace %s: released modules must not use replace directives", name, f.Replace[0].Old.Path)
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(name, out, 0o644)
}

// writeToProxy adds module version mv, with go.mod contents gomod and the
// files of dir, to the proxy directory proxyDir.
func writeToProxy(proxyDir string, mv module.Version, gomod []byte, dir string) error {
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return err
	}
	escVer, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return err
	}
	vdir := filepath.Join(proxyDir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	var zbuf bytes.Buffer
	if err := modzip.CreateFromDir(&zbuf, mv, dir); err != nil {
		return fmt.Errorf("creating module zip: %w", err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{mv.Version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	for ext, data := range map[string][]byte{".info": info, ".mod": gomod, ".zip": zbuf.Bytes()} {
		if err := os.WriteFile(filepath.Join(vdir, escVer+ext), data, 0o644); err != nil {
			return err
		}
	}
	return addToList(filepath.Join(vdir, "list"), mv.Version)
}

// addToList adds version to the proxy's list file unless it is there already.
func addToList(name, version string) error {
	data, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, v := range strings.Fields(string(data)) {
		if v == version {
			return nil
		}
	}
	return os.WriteFile(name, append(data, version+"\n"...), 0o644)
}
