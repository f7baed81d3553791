package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// captiveEnv returns the environment of the --run command: env and the variables of
// nbdkit-captive(1) describing the endpoint.
func captiveEnv(env []string, e endpoint, c *config) []string {
	tls := "" // --tls=off leaves $tls empty; on is 1 and require 2.
	switch c.tls {
	case "on":
		tls = "1"
	case "require":
		tls = "2"
	}
	return append(env,
		"uri="+e.uri,
		// Since nbdkit 1.24, $nbd is the URI too: every client takes URIs now.
		"nbd="+e.uri,
		"port="+e.port,
		"unixsocket="+e.unixSocket,
		"exportname="+c.exportName,
		"tls="+tls,
	)
}

// runCaptive runs command with /bin/sh while the server serves, and returns the
// status gonbd exits with: the command's, or 128+N when signal N killed it, as a
// shell reports it.
//
// Like system(3), which nbdkit uses, it ignores SIGINT and SIGQUIT while the command
// runs: a ^C on the terminal reaches the command, which decides. SIGTERM sent to gonbd
// is passed on to the command. The signals are caught and dropped rather than set to
// be ignored, because the command would inherit an ignored disposition across exec
// and a ^C could no longer stop it.
func runCaptive(ctx context.Context, command string, env []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr

	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGQUIT)
	defer signal.Stop(interrupts)
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	defer signal.Stop(terms)

	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("--run: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	canceled := ctx.Done()
	for {
		select {
		case <-interrupts:
		case sig := <-terms:
			cmd.Process.Signal(sig)
		case <-canceled:
			cmd.Process.Signal(syscall.SIGTERM)
			canceled = nil
		case err := <-done:
			if cmd.ProcessState == nil {
				return 1, fmt.Errorf("--run: %w", err)
			}
			status, sig := shellStatus(cmd.ProcessState)
			if sig != 0 {
				return status, fmt.Errorf("--run: the command was killed by signal %d (%v)", int(sig), sig)
			}
			return status, nil
		}
	}
}

// shellStatus returns the status a shell reports for a finished process: its exit
// code, or 128+N when signal N killed it (and that signal).
func shellStatus(state *os.ProcessState) (int, syscall.Signal) {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return state.ExitCode(), 0
}
