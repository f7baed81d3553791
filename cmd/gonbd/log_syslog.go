//go:build !windows && !plan9

package main

import (
	"log/slog"
	"log/syslog"
)

// syslogEmitter returns a line emitter that writes to the system log, at the priority
// of each record's level, and the function that closes the connection to it.
func syslogEmitter() (func(slog.Level, string) error, func() error, error) {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "gonbd")
	if err != nil {
		return nil, nil, err
	}
	emit := func(level slog.Level, line string) error {
		switch {
		case level < slog.LevelInfo:
			return w.Debug(line)
		case level < slog.LevelWarn:
			return w.Info(line)
		case level < slog.LevelError:
			return w.Warning(line)
		}
		return w.Err(line)
	}
	return emit, w.Close, nil
}
