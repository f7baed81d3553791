//go:build !unix

package server

import "os"

// pollable returns f: only Unix systems let the poller take over a pipe.
func pollable(f *os.File) *os.File { return f }
