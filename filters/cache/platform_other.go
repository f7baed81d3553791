//go:build !linux

package cache

import "os"

// canPunchHoles says whether punchHole frees storage here, which reclaiming needs.
const canPunchHoles = false

// punchHole does nothing here: dropped blocks keep their storage until the server
// exits, which is why cache-max-size is refused on this platform.
func punchHole(f *os.File, off, length int64) error { return nil }

// fsBlockSize returns 0: the file system's block size is not looked up here.
func fsBlockSize(dir string) int64 { return 0 }
