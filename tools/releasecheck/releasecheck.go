package releasecheck

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/tools/internal/release"
	"github.com/gonbd/gonbd/tools/internal/run"
	"golang.org/x/mod/modfile"
)

//go:embed testdata/thirdparty/main.go.txt
var thirdPartyMain []byte

// The module paths the checks use. They are the public names of the gonbd
// modules, which a user types; the release plan must contain them.
const (
	cmdModule    = "github.com/gonbd/gonbd/cmd/gonbd"
	serverModule = "github.com/gonbd/gonbd/server"
	memoryModule = "github.com/gonbd/gonbd/plugins/memory"
)

// DefaultForbidden lists the modules that a program using only the server and
// the memory plugin must not even see in its go.sum: they belong to the
// plugins and filters that decompress xz or speak SFTP and SSH.
var DefaultForbidden = []string{
	"github.com/ulikunitz/xz",
	"github.com/pkg/sftp",
	"golang.org/x/crypto",
}

// DefaultAllowed lists the only modules besides gonbd's own that such a
// program's go.sum may name: golang.org/x/sys for the server, and
// github.com/klauspost/compress for the memory plugin's zstd allocator. Their
// subdirectory modules are not allowed: nothing needs them.
var DefaultAllowed = []string{
	"golang.org/x/sys",
	"github.com/klauspost/compress",
}

// gonbdModules is the path prefix of the gonbd modules.
const gonbdModules = "github.com/gonbd/gonbd/"

// Config says what to check.
type Config struct {
	// Root is the repository root.
	Root string
	// Plan is the release being rehearsed, in dependency order.
	Plan []release.Release
	// Forbidden lists module paths the third-party module's go.sum must not
	// name; nil means DefaultForbidden.
	Forbidden []string
	// Allowed lists the only module paths besides gonbd's that the
	// third-party module's go.sum may name; nil means DefaultAllowed.
	Allowed []string
	// Log receives progress.
	Log io.Writer
}

// Run packs cfg.Plan and checks it. The first failure ends it.
func Run(ctx context.Context, cfg Config) (err error) {
	tmp, err := os.MkdirTemp("", "gonbd-release-check-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := release.RemoveAll(tmp); rerr != nil && err == nil {
			err = fmt.Errorf("removing %s: %w", tmp, rerr)
		}
	}()
	versions := make(map[string]string)
	for _, r := range cfg.Plan {
		versions[r.Module.Path] = r.Next
	}
	for _, p := range []string{cmdModule, serverModule, memoryModule} {
		if versions[p] == "" {
			return fmt.Errorf("module %s is not in go.work", p)
		}
	}

	proxy := filepath.Join(tmp, "proxy")
	if err := release.Pack(ctx, cfg.Root, cfg.Plan, proxy, cfg.Log); err != nil {
		return err
	}
	// An empty GOPATH and module cache: everything of ours must come from
	// the packed proxy, as it will come from the real one after the release.
	gopath := filepath.Join(tmp, "gopath")
	env, err := release.ProxyEnv(ctx, proxy, filepath.Join(gopath, "pkg", "mod"), release.Paths(cfg.Plan))
	if err != nil {
		return err
	}
	env = release.SetEnv(env, "GOPATH="+gopath, "GOBIN="+filepath.Join(tmp, "bin"))

	if err := checkInstall(ctx, tmp, env, versions[cmdModule], cfg.Log); err != nil {
		return fmt.Errorf("installing and running %s: %w", cmdModule, err)
	}
	forbidden := cfg.Forbidden
	if forbidden == nil {
		forbidden = DefaultForbidden
	}
	allowed := cfg.Allowed
	if allowed == nil {
		allowed = DefaultAllowed
	}
	if err := checkThirdParty(ctx, filepath.Join(tmp, "thirdparty"), env, versions, forbidden, allowed, cfg.Log); err != nil {
		return fmt.Errorf("third-party module using %s and %s: %w", serverModule, memoryModule, err)
	}
	return nil
}

// checkInstall installs cmd/gonbd at version and has it serve a 1 MiB memory
// disk on a Unix socket whose size a real NBD client must read back.
func checkInstall(ctx context.Context, tmp string, env []string, version string, log io.Writer) error {
	fmt.Fprintf(log, "release-check: go install %s@%s\n", cmdModule, version)
	if _, err := run.Output(ctx, tmp, env, "go", "install", cmdModule+"@"+version); err != nil {
		return err
	}
	sock := filepath.Join(tmp, "gonbd.sock")
	return serves(ctx, filepath.Join(tmp, "bin", "gonbd"), []string{"-f", "-U", sock, "memory", "size=1M"}, sock, log)
}

// serves runs bin with args until it listens on the Unix socket sock, checks
// that a real NBD client sees a 1 MiB export there, and stops bin.
func serves(ctx context.Context, bin string, args []string, sock string, log io.Writer) error {
	fmt.Fprintf(log, "release-check: %s %s\n", filepath.Base(bin), strings.Join(args, " "))
	srv, err := startServer(ctx, bin, args, sock)
	if err != nil {
		return err
	}
	size, err := exportSize(ctx, sock)
	if serr := srv.stop(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if size != 1<<20 {
		return fmt.Errorf("export size is %d, want %d for a 1M disk", size, 1<<20)
	}
	fmt.Fprintf(log, "release-check: %s served a %d-byte export\n", filepath.Base(bin), size)
	return nil
}

// server is a running NBD server process.
type server struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

// startServer starts bin and waits until it listens on sock.
func startServer(ctx context.Context, bin string, args []string, sock string) (*server, error) {
	s := &server{cmd: exec.Command(bin, args...), stderr: new(bytes.Buffer), done: make(chan error, 1)}
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()

	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sock); err == nil {
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("%s %s exited before listening (%v):\n%s", bin, strings.Join(args, " "), err, s.stderr)
		case <-deadline.C:
			s.stop()
			return nil, fmt.Errorf("%s %s did not create %s within 20s:\n%s", bin, strings.Join(args, " "), sock, s.stderr)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, on which the server must finish and exit with status
// 0 (gonbd's design asks so), and kills the process if it has not exited 10
// seconds later.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("the server did not exit cleanly on SIGTERM (%v):\n%s", err, s.stderr)
		}
		return nil
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("the server did not exit within 10s of SIGTERM:\n%s", s.stderr)
	}
}

// exportSize asks a real NBD client for the size of the default export on
// sock: nbdinfo, or qemu-img when libnbd's tools are not installed.
func exportSize(ctx context.Context, sock string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	uri := "nbd+unix:///?socket=" + sock
	// Debian's tools first: a Python from a version manager has no nbd module.
	env := release.SetEnv(os.Environ(), "PATH=/usr/bin:/bin:"+os.Getenv("PATH"))
	if _, err := exec.LookPath("nbdinfo"); err == nil {
		out, err := run.Output(ctx, "", env, "nbdinfo", "--json", uri)
		if err != nil {
			return 0, err
		}
		var info struct {
			Exports []struct {
				Size *int64 `json:"export-size"`
			}
		}
		if err := json.Unmarshal(out, &info); err != nil {
			return 0, fmt.Errorf("decoding nbdinfo --json: %w\n%s", err, out)
		}
		if len(info.Exports) == 0 || info.Exports[0].Size == nil {
			return 0, fmt.Errorf("nbdinfo --json reports no export size:\n%s", out)
		}
		return *info.Exports[0].Size, nil
	}
	if _, err := exec.LookPath("qemu-img"); err == nil {
		out, err := run.Output(ctx, "", env, "qemu-img", "info", "--output=json", uri)
		if err != nil {
			return 0, err
		}
		var info struct {
			Size *int64 `json:"virtual-size"`
		}
		if err := json.Unmarshal(out, &info); err != nil || info.Size == nil {
			return 0, fmt.Errorf("qemu-img info --output=json reports no virtual-size (%v):\n%s", err, out)
		}
		return *info.Size, nil
	}
	return 0, errors.New("neither nbdinfo nor qemu-img is installed (tools/ci/install-clients.sh installs them)")
}

// checkThirdParty builds, in dir, a module that requires only the packed
// server and memory plugin, checks that the program serves, and checks its
// go.sum.
func checkThirdParty(ctx context.Context, dir string, env []string, versions map[string]string, forbidden, allowed []string, log io.Writer) error {
	fmt.Fprintf(log, "release-check: building example.com/thirdparty with %s@%s and %s@%s\n",
		serverModule, versions[serverModule], memoryModule, versions[memoryModule])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f := new(modfile.File)
	f.AddModuleStmt("example.com/thirdparty")
	f.AddGoStmt("1.24.0")
	f.AddNewRequire(serverModule, versions[serverModule], false)
	f.AddNewRequire(memoryModule, versions[memoryModule], false)
	gomod, err := f.Format()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), thirdPartyMain, 0o644); err != nil {
		return err
	}
	if _, err := run.Output(ctx, dir, env, "go", "mod", "tidy"); err != nil {
		return err
	}
	bin := filepath.Join(dir, "thirdparty")
	if _, err := run.Output(ctx, dir, env, "go", "build", "-o", bin, "."); err != nil {
		return err
	}
	sock := filepath.Join(dir, "thirdparty.sock")
	if err := serves(ctx, bin, []string{"-U", sock}, sock, log); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if bad := ForbiddenInSum(sum, forbidden); len(bad) > 0 {
		return fmt.Errorf("go.sum names %s: a program using only the server and the memory plugin must not depend on them\n%s",
			strings.Join(bad, ", "), sum)
	}
	if extra := UnexpectedInSum(sum, allowed); len(extra) > 0 {
		return fmt.Errorf("go.sum names %s: a program using only the server and the memory plugin may depend on %s alone\n%s",
			strings.Join(extra, ", "), strings.Join(allowed, " and "), sum)
	}
	return nil
}

// UnexpectedInSum returns the modules that go.sum contents sum name, other
// than gonbd's own and those listed in allowed (exactly: not their
// subdirectory modules), each once, in order.
func UnexpectedInSum(sum []byte, allowed []string) []string {
	var extra []string
	seen := make(map[string]bool)
	for _, line := range strings.Split(string(sum), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || seen[fields[0]] {
			continue
		}
		seen[fields[0]] = true
		if !strings.HasPrefix(fields[0], gonbdModules) && !slices.Contains(allowed, fields[0]) {
			extra = append(extra, fields[0])
		}
	}
	return extra
}

// ForbiddenInSum returns the modules of forbidden that go.sum contents sum
// name, including their subdirectory modules (such as
// golang.org/x/crypto/x509roots/fallback for golang.org/x/crypto).
func ForbiddenInSum(sum []byte, forbidden []string) []string {
	var bad []string
	seen := make(map[string]bool)
	for _, line := range strings.Split(string(sum), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		for _, f := range forbidden {
			if (fields[0] == f || strings.HasPrefix(fields[0], f+"/")) && !seen[fields[0]] {
				seen[fields[0]] = true
				bad = append(bad, fields[0])
			}
		}
	}
	return bad
}
