package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// Going to the background, as nbdkit does without -f: Go cannot fork, so gonbd starts
// itself again, detached, with readyEnv naming a pipe. The child builds the server
// and listens, then writes readyByte (and what the parent should print, such as
// --print-uri's URI) to the pipe and closes it; the parent prints that and exits 0.
// If the child fails before, the pipe closes empty, and the parent exits with the
// child's status after the child's own error message (on the shared stderr).

// readyEnv holds the descriptor of the background child's pipe to its parent.
const readyEnv = "GONBD_BACKGROUND_READY_FD"

const readyByte = 'R'

// goBackground starts gonbd again with args in the background and returns the status
// to exit with once the server listens or failed to.
func goBackground(args, env []string, stdout, stderr io.Writer) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 1, fmt.Errorf("going to the background: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 1, fmt.Errorf("going to the background: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	// ExtraFiles start at descriptor 3.
	cmd.Env = append(withoutEnv(env, readyEnv), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = stderr
	cmd.SysProcAttr = detachedProcAttr()
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 1, fmt.Errorf("going to the background: %w", err)
	}
	msg, _ := io.ReadAll(r)
	if len(msg) > 0 && msg[0] == readyByte {
		stdout.Write(msg[1:])
		cmd.Process.Release()
		return 0, nil
	}
	if err := cmd.Wait(); err != nil && cmd.ProcessState == nil {
		return 1, fmt.Errorf("going to the background: %w", err)
	}
	// A child that exits 0 without serving was stopped by a signal right away.
	status, _ := shellStatus(cmd.ProcessState)
	return status, nil
}

// readyPipe returns the pipe to the parent when this process is a background child,
// or nil.
func readyPipe(env []string) (*os.File, error) {
	v, ok := lookupEnv(env, readyEnv)
	if !ok {
		return nil, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, errors.New(readyEnv + " is not a descriptor")
	}
	return os.NewFile(uintptr(fd), "ready"), nil
}

// signalReady tells the parent that the server listens, with what it should print.
func signalReady(pipe *os.File, text string) error {
	defer pipe.Close()
	_, err := pipe.Write(append([]byte{readyByte}, text...))
	return err
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := cutEnv(env[i]); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func withoutEnv(env []string, key string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := cutEnv(kv); k != key {
			out = append(out, kv)
		}
	}
	return out
}

func cutEnv(kv string) (key, value string, ok bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
