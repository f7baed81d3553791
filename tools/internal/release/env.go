package release

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gonbd/gonbd/tools/internal/run"
)

// ProxyEnv returns the environment in which the go command sees the modules
// packed into proxyDir as published, and nothing of the work tree:
//
//   - GOWORK=off, so go.work does not substitute the work tree;
//   - GOPROXY lists proxyDir first, then the download cache of the caller's
//     GOMODCACHE (itself a valid file proxy, which saves fetching x/sys and
//     friends again on every run), then the caller's GOPROXY;
//   - GOMODCACHE is gomodcache, a fresh directory, so no module version
//     packed by an earlier run can be found in a cache instead of proxyDir;
//   - GONOSUMDB adds the module paths packed, which the checksum database
//     cannot know (but GONOPROXY is left alone: GOPRIVATE would send the go
//     command to the network instead of proxyDir);
//   - GOFLAGS adds -mod=mod so go.mod and go.sum may be updated;
//   - GOTOOLCHAIN=local, so the test runs the toolchain at hand.
func ProxyEnv(ctx context.Context, proxyDir, gomodcache string, packed []string) ([]string, error) {
	out, err := run.Output(ctx, "", nil, "go", "env", "-json", "GOPROXY", "GOMODCACHE", "GONOSUMDB", "GOFLAGS")
	if err != nil {
		return nil, err
	}
	var goenv map[string]string
	if err := json.Unmarshal(out, &goenv); err != nil {
		return nil, fmt.Errorf("decoding go env -json: %w", err)
	}
	proxies := []string{FileURL(proxyDir)}
	if dl := filepath.Join(goenv["GOMODCACHE"], "cache", "download"); goenv["GOMODCACHE"] != "" {
		if _, err := os.Stat(dl); err == nil {
			proxies = append(proxies, FileURL(dl))
		}
	}
	if p := goenv["GOPROXY"]; p != "" && p != "off" {
		proxies = append(proxies, p)
	}
	nosumdb := strings.Join(packed, ",")
	if v := goenv["GONOSUMDB"]; v != "" {
		nosumdb += "," + v
	}
	return SetEnv(os.Environ(),
		"GOWORK=off",
		"GOPROXY="+strings.Join(proxies, ","),
		"GOMODCACHE="+gomodcache,
		"GONOSUMDB="+nosumdb,
		"GOFLAGS="+strings.TrimSpace(goenv["GOFLAGS"]+" -mod=mod"),
		"GOTOOLCHAIN=local",
	), nil
}

// FileURL returns the file:// URL of the directory dir.
func FileURL(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// SetEnv returns a copy of env with each "KEY=value" of kv set, replacing any
// earlier value of KEY.
func SetEnv(env []string, kv ...string) []string {
	out := make([]string, 0, len(env)+len(kv))
	set := make(map[string]bool)
	for _, s := range kv {
		k, _, _ := strings.Cut(s, "=")
		set[k] = true
	}
	for _, s := range env {
		k, _, _ := strings.Cut(s, "=")
		if !set[k] {
			out = append(out, s)
		}
	}
	return append(out, kv...)
}

// RemoveAll removes dir like os.RemoveAll, after making it writable: the go
// command writes its module cache read-only, and os.RemoveAll cannot remove
// files from a directory without write permission.
func RemoveAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
