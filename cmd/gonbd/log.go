package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// lineHandler is a slog.Handler that writes one line per record in nbdkit's style,
// "gonbd: debug: message key=value ...", which reads well on a terminal and in syslog.
// The text after "gonbd: " goes to emit with the record's level.
type lineHandler struct {
	level  slog.Leveler
	emit   func(level slog.Level, line string) error
	attrs  string // preformatted " key=value" pairs from WithAttrs
	groups string // "a.b." prefix from WithGroup
}

func (h *lineHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(levelName(r.Level))
	b.WriteString(": ")
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.groups, a)
		return true
	})
	return h.emit(r.Level, b.String())
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.groups, a)
	}
	h2 := *h
	h2.attrs = b.String()
	return &h2
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups += name + "."
	return &h2
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	}
	return "error"
}

// appendAttr writes " key=value", quoting values that would not read back as one word.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			appendAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	value := a.Value.String()
	if value == "" || strings.ContainsAny(value, " \t\n\"=") {
		value = fmt.Sprintf("%q", value)
	}
	fmt.Fprintf(b, " %s%s=%s", prefix, a.Key, value)
}

// newLogger returns the logger --log and -v ask for, and a function that closes its
// destination. dest is stderr, syslog, null, or the name of a file to append to;
// stderr is the writer stderr messages go to.
func newLogger(dest string, verbose bool, stderr io.Writer) (*slog.Logger, func() error, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	var mu sync.Mutex // one whole line at a time from concurrent connections
	toWriter := func(w io.Writer) func(slog.Level, string) error {
		return func(_ slog.Level, line string) error {
			mu.Lock()
			defer mu.Unlock()
			_, err := fmt.Fprintf(w, "gonbd: %s\n", line)
			return err
		}
	}
	nothing := func() error { return nil }
	var emit func(slog.Level, string) error
	closeLog := nothing
	switch dest {
	case "", "stderr":
		emit = toWriter(stderr)
	case "null":
		return slog.New(slog.DiscardHandler), nothing, nil
	case "syslog":
		var err error
		if emit, closeLog, err = syslogEmitter(); err != nil {
			return nil, nil, fmt.Errorf("--log=syslog: %w", err)
		}
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log: %w", err)
		}
		emit, closeLog = toWriter(f), f.Close
	}
	return slog.New(&lineHandler{level: level, emit: emit}), closeLog, nil
}
