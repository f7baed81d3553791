package run

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Output runs name with args in dir and returns its standard output. env, when
// not nil, is the complete environment of the command. The error of a failed
// command carries the command line, the directory and the tail of its standard
// error, because "exit status 1" alone tells nothing.
func Output(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	// A child that keeps our pipes open after being killed must not hang us.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &Error{Dir: dir, Args: cmd.Args, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// Error describes a command that failed.
type Error struct {
	Dir    string
	Args   []string
	Err    error
	Stderr string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", strings.Join(e.Args, " "))
	if e.Dir != "" {
		fmt.Fprintf(&b, " (in %s)", e.Dir)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		fmt.Fprintf(&b, "\n%s", tail(s, 4000))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// tail returns at most the last n bytes of s, on a line boundary when it can.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "...\n" + s
}
