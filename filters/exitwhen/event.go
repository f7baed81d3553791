package exitwhen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// An Event is something the filter watches for. Make events with [ParseEvent].
type Event struct {
	kind eventKind
	arg  string // as written: a path, a number or a script
	n    int    // the file descriptor or process ID
}

type eventKind int

const (
	fileCreated eventKind = iota
	fileDeleted
	pipeClosed
	fdClosed
	processExits
	script
)

var kindNames = [...]string{
	fileCreated:  "file-created",
	fileDeleted:  "file-deleted",
	pipeClosed:   "pipe-closed",
	fdClosed:     "fd-closed",
	processExits: "process-exits",
	script:       "script",
}

// String returns the event as exitwhen= writes it.
func (e Event) String() string { return kindNames[e.kind] + ":" + e.arg }

// ParseEvent parses an event written KIND:ARG, as exitwhen= takes it: file-created:PATH,
// file-deleted:PATH, pipe-closed:FD, fd-closed:FD, process-exits:PID or script:SCRIPT.
// A descriptor must be open now, and a process ID positive.
func ParseEvent(s string) (Event, error) {
	kind, arg, ok := strings.Cut(s, ":")
	if !ok {
		return Event{}, fmt.Errorf("cannot parse event %q (expected KIND:ARGUMENT, such as file-created:/tmp/stop)", s)
	}
	for k, name := range kindNames {
		if kind == name {
			return newEvent(eventKind(k), arg)
		}
	}
	return Event{}, fmt.Errorf("unknown event %q (expected file-created, file-deleted, pipe-closed, fd-closed, process-exits or script)", kind)
}

// newEvent checks arg for an event of kind.
func newEvent(kind eventKind, arg string) (Event, error) {
	e := Event{kind: kind, arg: arg}
	if arg == "" {
		return e, fmt.Errorf("%s: the argument is empty", kindNames[kind])
	}
	switch kind {
	case pipeClosed, fdClosed:
		n, err := server.ParseInt(arg, 32)
		if err != nil || n < 0 {
			return e, fmt.Errorf("%s:%s: not a file descriptor", kindNames[kind], arg)
		}
		e.n = int(n)
		if err := checkDescriptor(e.n); err != nil {
			return e, fmt.Errorf("%s:%s: %w", kindNames[kind], arg, err)
		}
	case processExits:
		n, err := server.ParseInt(arg, 32)
		if err != nil || n <= 0 {
			return e, fmt.Errorf("%s:%s: not a process ID", kindNames[kind], arg)
		}
		e.n = int(n)
	}
	return e, nil
}

// scriptTriggered is the exit status with which a script says its event happened.
const scriptTriggered = 88

// happened checks whether the event has happened. Trouble checking is logged and
// counts as "not yet", except for a descriptor that is no longer open, which is as
// closed as it gets.
func (e *Event) happened(ctx context.Context, log *slog.Logger) bool {
	switch e.kind {
	case fileCreated, fileDeleted:
		_, err := os.Stat(e.arg)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cannot tell whether the file exists", "event", e.String(), "err", err)
			return false
		}
		return exists == (e.kind == fileCreated)
	case pipeClosed, fdClosed:
		closed, err := descriptorClosed(e.n)
		if err != nil {
			log.Warn("cannot poll the descriptor", "event", e.String(), "err", err)
		}
		return closed
	case processExits:
		exited, err := processExited(e.n)
		if err != nil {
			log.Warn("cannot tell whether the process exited", "event", e.String(), "err", err)
		}
		return exited
	case script:
		return runScript(ctx, e.arg, log)
	}
	return false
}

// runScript runs a script with the shell and reports whether it exited with status 88.
// Other statuses from 1 to 87 are errors, logged; 89 and above are reserved, and
// logged too.
func runScript(ctx context.Context, s string, log *slog.Logger) bool {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s)
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return false
	case errors.As(err, &exit) && exit.ExitCode() == scriptTriggered:
		return true
	case errors.As(err, &exit) && exit.ExitCode() > scriptTriggered:
		log.Warn("the script exited with a reserved status, taken as no event", "script", s, "status", exit.ExitCode(), "output", string(out))
	default:
		log.Error("the script failed", "script", s, "err", err, "output", string(out))
	}
	return false
}
