//go:build !unix

package file

import (
	"fmt"
	"os"
	"runtime"
)

// descriptorsSupported is true where fd= and dirfd= work: not here, as in nbdkit,
// whose fd= and dirfd= are Unix only.
const descriptorsSupported = false

var errNoDescriptors = fmt.Errorf("inherited descriptors are not supported on %s", runtime.GOOS)

func accessMode(f *os.File) (readable, writable bool, err error) {
	return false, false, errNoDescriptors
}

func newFDDir(dir *os.File) (source, error) { return nil, errNoDescriptors }

func descriptorName(key string, f *os.File) string {
	if f == nil {
		return key
	}
	return fmt.Sprintf("%s=%s", key, f.Name())
}
