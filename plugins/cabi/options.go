package cabi

import (
	"log/slog"

	"github.com/gonbd/gonbd/server"
)

// Options configure a C plugin loaded with [Load].
type Options struct {
	// Logger receives the plugin's nbdkit_debug messages (at debug level) and the
	// nbdkit_error messages of calls that did not fail. Nil discards them. The
	// plugin made by [Library.Spec]'s New logs to its Params' Logger instead.
	Logger *slog.Logger
	// StdioUnsafe tells the plugin, through nbdkit_stdio_safe, that standard input
	// and output carry the NBD connection (gonbd -s), so that it must not read a
	// password from the terminal. The default, false, says they are free.
	StdioUnsafe bool
}

// Params are parameters in the order given, for [Library.Configure].
type Params = []server.Param
