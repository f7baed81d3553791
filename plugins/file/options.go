package file

import (
	"log/slog"
	"os"
)

// Options configure the plugin. Exactly one of File, Dir, FD and DirFD must be set;
// every other field's zero value is its default.
type Options struct {
	// File is the regular file or block device to serve, whatever export name a client
	// asks for (file=).
	File string
	// Dir is a directory whose regular files and block devices are served, each as an
	// export named after the file (dir=). Symbolic links in it are followed.
	Dir string
	// FD is an open regular file or block device to serve (fd=). The plugin owns it
	// from New on and closes it in Cleanup. Every connection shares it; the mode it
	// was opened with decides whether clients may write. Unix only.
	FD *os.File
	// DirFD is an open directory served as Dir is (dirfd=). The plugin owns it from
	// New on and closes it in Cleanup. Unix only.
	DirFD *os.File

	// NoCache keeps the served data out of the kernel's page cache (cache=none) by
	// opening files with O_DIRECT where the system and the file system allow it;
	// where they refuse, the plugin logs a warning and uses the page cache. Default
	// false (cache=default).
	NoCache bool
	// Advice is the access pattern announced to the kernel with posix_fadvise(2)
	// (fadvise=), where the system has it. Default [AdviceNormal].
	Advice Advice

	// Logger receives the plugin's warnings and debug messages. Default: discard.
	Logger *slog.Logger
}

// Advice is an access pattern for posix_fadvise(2).
type Advice int

const (
	// AdviceNormal: the kernel's default read-ahead.
	AdviceNormal Advice = iota
	// AdviceRandom: requests come in no particular order; no read-ahead.
	AdviceRandom
	// AdviceSequential: requests come in order; more read-ahead.
	AdviceSequential
)

// String returns the advice as fadvise= spells it.
func (a Advice) String() string {
	switch a {
	case AdviceNormal:
		return "normal"
	case AdviceRandom:
		return "random"
	case AdviceSequential:
		return "sequential"
	}
	return "unknown"
}
