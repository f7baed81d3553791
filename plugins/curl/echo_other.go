//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package curl

import (
	"fmt"
	"os"
	"runtime"
)

// disableEcho fails: this system has no terminal interface the plugin knows.
func disableEcho(f *os.File) (restore func(), err error) {
	return nil, fmt.Errorf("typing a secret on the terminal is not supported on %s (give it with +FILE)", runtime.GOOS)
}
