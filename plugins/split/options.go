package split

import "log/slog"

// Options configure the plugin.
type Options struct {
	// Files are the regular files to concatenate, in order: the export is the first
	// one's bytes, then the second's, and so on. At least one is needed; any may be
	// empty, and their sizes need not be multiples of anything.
	Files []string
	// Logger receives the plugin's debug messages. Default: discard.
	Logger *slog.Logger
}
