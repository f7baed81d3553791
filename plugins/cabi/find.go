package cabi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// IsPath reports whether a plugin operand on the command line names a shared object
// rather than a plugin by name: as in nbdkit, it contains a '/' or ends in ".so".
func IsPath(operand string) bool {
	return strings.ContainsRune(operand, '/') || strings.HasSuffix(operand, ".so")
}

// PluginDirs returns the directories searched for nbdkit's plugins by short name, in
// order: the Debian and Ubuntu multiarch directory of this machine's architecture,
// then the directories of Fedora, Arch and source builds.
func PluginDirs() []string {
	dirs := make([]string, 0, 5)
	if triplet, ok := multiarchTriplet(runtime.GOARCH); ok && runtime.GOOS == "linux" {
		dirs = append(dirs, "/usr/lib/"+triplet+"/nbdkit/plugins")
	}
	return append(dirs, "/usr/lib64/nbdkit/plugins", "/usr/lib/nbdkit/plugins",
		"/usr/local/lib64/nbdkit/plugins", "/usr/local/lib/nbdkit/plugins")
}

// multiarchTriplet returns Debian's multiarch triplet for a GOARCH.
func multiarchTriplet(goarch string) (string, bool) {
	switch goarch {
	case "amd64":
		return "x86_64-linux-gnu", true
	case "arm64":
		return "aarch64-linux-gnu", true
	case "386":
		return "i386-linux-gnu", true
	case "arm":
		return "arm-linux-gnueabihf", true
	case "ppc64le":
		return "powerpc64le-linux-gnu", true
	case "s390x":
		return "s390x-linux-gnu", true
	case "riscv64":
		return "riscv64-linux-gnu", true
	}
	return "", false
}

// ErrNotFound is returned by [Find] when no directory holds the plugin.
var ErrNotFound = errors.New("no such nbdkit plugin")

// Find returns the path of nbdkit's plugin called name
// (DIR/nbdkit-NAME-plugin.so) in the first of dirs that has it, or in [PluginDirs]
// when dirs is empty.
func Find(name string, dirs ...string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	if len(dirs) == 0 {
		dirs = PluginDirs()
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, "nbdkit-"+name+"-plugin.so")
		if _, err := os.Stat(path); err == nil {
			return path, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("looking for nbdkit plugin %q: %w", name, err)
		}
	}
	return "", fmt.Errorf("%q (looked in %s): %w", name, strings.Join(dirs, ", "), ErrNotFound)
}
