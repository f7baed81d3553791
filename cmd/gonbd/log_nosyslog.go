//go:build windows || plan9

package main

import (
	"errors"
	"log/slog"
)

// syslogEmitter fails: this system has no syslog.
func syslogEmitter() (func(slog.Level, string) error, func() error, error) {
	return nil, nil, errors.New("syslog is not available on this system")
}
