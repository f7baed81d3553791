package sh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// status is how a script answered a call, when it did not fail: the exit codes of
// nbdkit's calling convention that are not errors.
type status int

const (
	// statusOK is exit code 0: the method did its work (or answered true).
	statusOK status = iota
	// statusMissing is exit code 2: the script does not implement the method.
	statusMissing
	// statusFalse is exit code 3: false, for methods that answer a question.
	statusFalse
)

// Exit codes with a meaning of their own; every other non-zero code is an error.
const (
	exitMissing = 2
	exitFalse   = 3
)

// Limits on what is kept of a script's output, so that a runaway script cannot
// exhaust the server's memory. pread output is bounded by the request itself.
const (
	// maxTextOutput bounds the standard output of methods that answer with text
	// (get_size, list_exports, extents...).
	maxTextOutput = 64 << 20
	// maxErrorOutput is how much of the standard error is kept for the error
	// message; the rest is discarded.
	maxErrorOutput = 64 << 10
)

// shell runs scripts the kernel refuses to execute because they have no "#!" line,
// as execvp(3) does and so nbdkit does.
const shell = "/bin/sh"

// An invocation is one run of a script: `SCRIPT METHOD ARGS...`.
type invocation struct {
	method string
	args   []string
	// stdin is written to the script's standard input, which is empty when stdin
	// is nil.
	stdin []byte
	// stdout receives the script's standard output; nil discards it.
	stdout io.Writer
}

// call runs the script that implements inv.method and returns how it answered, or the
// error it reported: exit codes 1 and 4 to 255, a death by signal, or a script that
// could not be run. Errors carry the errno the script named on standard error (EIO by
// default) and its message. A method without a script (see Options.ScriptFor) answers
// statusMissing without running anything.
func (p *Plugin) call(ctx context.Context, inv invocation) (status, error) {
	program := p.scriptFor(inv.method)
	if program == "" {
		return statusMissing, nil
	}
	// A request whose connection is already gone needs no new process. A script
	// that has started is left to finish, as nbdkit does: killing it half-way
	// could leave whatever state it keeps inconsistent.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	stderr := &cappedBuffer{limit: maxErrorOutput}
	err := p.run(program, inv, stderr)
	code, err := exitCode(err)
	if err != nil {
		return 0, server.Errorf(syscall.EIO, "%s: %w", p.describe(program, inv.method), err)
	}
	switch code {
	case 0:
		if stderr.Len() > 0 {
			p.log.Debug("script succeeded, ignoring its standard error",
				"method", inv.method, "stderr", stderr.String())
		}
		return statusOK, nil
	case exitMissing:
		return statusMissing, nil
	case exitFalse:
		return statusFalse, nil
	}
	return 0, scriptError(p.describe(program, inv.method), code, stderr.Bytes())
}

// run starts program with the method and its arguments, feeds it inv.stdin, and
// waits for it. A program the kernel cannot execute because it is a script without
// "#!" line is run again by /bin/sh.
func (p *Plugin) run(program string, inv invocation, stderr io.Writer) error {
	args := append([]string{program, inv.method}, inv.args...)
	err := p.start(program, args, inv, stderr)
	if errors.Is(err, syscall.ENOEXEC) {
		err = p.start(shell, append([]string{shell}, args...), inv, stderr)
	}
	return err
}

// start runs one process to completion. Standard input is a pipe this goroutine
// writes itself rather than leave to os/exec, which ignores a script that exits
// without reading all of it: nbdkit treats that as a failed write, and so does this.
func (p *Plugin) start(path string, args []string, inv invocation, stderr io.Writer) error {
	cmd := &exec.Cmd{Path: path, Args: args, Env: p.env, Stdout: inv.stdout, Stderr: stderr}
	if inv.stdout == nil {
		cmd.Stdout = io.Discard
	}
	var stdinReader, stdinWriter *os.File
	if inv.stdin != nil {
		var err error
		if stdinReader, stdinWriter, err = os.Pipe(); err != nil {
			return err
		}
		cmd.Stdin = stdinReader
	}
	err := cmd.Start()
	if stdinReader != nil {
		// The script has its copy; closing ours makes the writes below fail with
		// EPIPE once the script has exited or closed its standard input.
		stdinReader.Close()
	}
	if err != nil {
		if stdinWriter != nil {
			stdinWriter.Close()
		}
		return err
	}
	var writeErr error
	if stdinWriter != nil {
		_, writeErr = stdinWriter.Write(inv.stdin)
		stdinWriter.Close()
	}
	if err := cmd.Wait(); err != nil {
		return err // the exit status says more than a broken pipe
	}
	if errors.Is(writeErr, syscall.EPIPE) {
		return errors.New("the script exited without reading all of its standard input (a bug in the script?)")
	}
	return writeErr
}

// exitCode turns the result of running a script into its exit code; the error is
// what is left when the script did not exit normally.
func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return 0, err
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 0, fmt.Errorf("the script was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	if code := exit.ExitCode(); code >= 0 {
		return code, nil
	}
	return 0, err
}

// describe names a call in messages: the program and, when the program does not
// already say it (as eval's per-method scripts do), the method.
func (p *Plugin) describe(program, method string) string {
	if strings.HasSuffix(program, "/"+method) {
		return program
	}
	return program + ": " + method
}

// cappedBuffer keeps the first limit bytes written to it and drops the rest, noting
// that it did. It never fails a write: a failing writer would make os/exec close the
// pipe, and the script would die of SIGPIPE rather than be told its output was too
// long.
type cappedBuffer struct {
	bytes.Buffer
	limit     int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.Len()
	if len(p) > room {
		b.truncated = true
	}
	if room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// fixedWriter fills a caller's buffer (pread's) and counts what the script wrote
// beyond it, to report a wrong amount of data without allocating.
type fixedWriter struct {
	p     []byte
	n     int   // bytes of p filled
	extra int64 // bytes written past the end of p
}

func (w *fixedWriter) Write(b []byte) (int, error) {
	n := copy(w.p[w.n:], b)
	w.n += n
	w.extra += int64(len(b) - n)
	return len(b), nil
}

func (w *fixedWriter) total() int64 { return int64(w.n) + w.extra }
