package logfilter

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gonbd/gonbd/server"
)

// Options say where the log goes. With neither File nor Script, the filter does
// nothing.
type Options struct {
	// File is the log file, written in nbdkit's log filter format.
	File string
	// Append adds to File instead of replacing it.
	Append bool
	// Script is a bash script run for each message, with the message's fields as
	// shell variables ($act, $type, $connection, $id, $return, $error, $offset...).
	Script string
	// Logger receives the filter's own errors; nil discards them.
	Logger *slog.Logger
}

// New returns a layer in front of next that logs every call passing through it as
// opts says. The log file is opened (and the script's shell found) by GetReady, so
// that a bad path stops the server from starting.
func New(next server.Layer, opts Options) server.Layer {
	if opts.File == "" && opts.Script == "" {
		return next
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

// open opens the outputs opts names.
func (opts *Options) open() (*output, error) {
	var bash string
	if opts.Script != "" {
		// nbdkit runs log scripts with bash: they may use its arrays, which the
		// extents and exports fields are written as.
		var err error
		if bash, err = exec.LookPath("bash"); err != nil {
			return nil, fmt.Errorf("logscript needs bash: %w", err)
		}
	}
	var file *os.File
	if opts.File != "" {
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if opts.Append {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		var err error
		if file, err = os.OpenFile(opts.File, flags, 0o644); err != nil {
			return nil, fmt.Errorf("logfile: %w", err)
		}
	}
	return newOutput(file, bash, opts.Script), nil
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=log PLUGIN [logfile=FILE | logscript=SCRIPT] [logappend=BOOL]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "log",
		Version:     moduleVersion(),
		Description: "log all transactions to a file or script",
		ConfigHelp: "logfile=<FILE>               The file to place the log in.\n" +
			"logappend=<BOOL>             True to append to the log (default false).\n" +
			"logscript=<SCRIPT>           Script to run for logging.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Logger: p.Logger}
			if path, ok := p.Lookup("logfile"); ok {
				if path == "" {
					return nil, errors.New("logfile= needs a file name")
				}
				// Absolute, because the server may change directory when it daemonizes.
				abs, err := filepath.Abs(path)
				if err != nil {
					return nil, fmt.Errorf("logfile=%s: %w", path, err)
				}
				opts.File = abs
			}
			opts.Script, _ = p.Lookup("logscript")
			var err error
			if opts.Append, err = p.Bool("logappend", false); err != nil {
				return nil, err
			}
			return New(next, opts), nil
		},
	}
}
