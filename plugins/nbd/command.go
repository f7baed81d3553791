package nbd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// commandStopTimeout is how long a command has to exit after SIGTERM before it is
// killed.
const commandStopTimeout = 5 * time.Second

// activationScript becomes the server with exec after setting LISTEN_PID to its own
// process ID, which exec keeps. Socket activation wants LISTEN_PID to name the server,
// whose ID only exists once the process does, too late for os/exec's environment.
// The shell gets the program as $0 and its arguments as $@, so nothing is quoted.
const activationScript = `LISTEN_PID=$$ exec "$0" "$@"`

// serverCommand is a server the plugin runs as a child process, listening on a Unix
// socket the plugin made, as libnbd's nbd_connect_systemd_socket_activation does.
type serverCommand struct {
	name     string // the program, for messages
	cmd      *exec.Cmd
	dir      string // the temporary directory of the socket
	socket   string
	log      *slog.Logger
	stopping atomic.Bool
	done     chan struct{} // closed once the process has exited
	exitErr  error         // how it exited (nil for status 0); set before done is closed
}

// startCommand makes a listening socket in a new temporary directory and runs argv
// with it as descriptor 3, announced by LISTEN_FDS=1. The server's output goes to
// stderr.
func startCommand(argv []string, stderr io.Writer, log *slog.Logger) (_ *serverCommand, err error) {
	dir, err := os.MkdirTemp("", "gonbd-nbd-")
	if err != nil {
		return nil, fmt.Errorf("command=%s: %w", argv[0], err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	socket := filepath.Join(dir, "nbd.sock")
	listener, err := listenerFile(socket)
	if err != nil {
		return nil, fmt.Errorf("command=%s: %w", argv[0], err)
	}
	defer listener.Close() // the child has its own copy

	cmd := exec.Command("/bin/sh", append([]string{"-c", activationScript}, argv...)...)
	cmd.Env = append(environWithoutActivation(), "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{listener}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("command=%s: %w", argv[0], err)
	}
	c := &serverCommand{name: argv[0], cmd: cmd, dir: dir, socket: socket, log: log, done: make(chan struct{})}
	log.Debug("started the server command", "command", strings.Join(argv, " "), "pid", cmd.Process.Pid, "socket", socket)
	go c.wait()
	return c, nil
}

// listenerFile returns a Unix socket listening on path, as a file for a child.
func listenerFile(path string) (*os.File, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The socket outlives this listener, in the child; the directory goes at stop.
	ln.SetUnlinkOnClose(false)
	defer ln.Close()
	return ln.File()
}

// environWithoutActivation returns this process's environment without the variables
// of a socket activation of its own, which must not reach the child.
func environWithoutActivation() []string {
	env := os.Environ()
	kept := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name != "LISTEN_PID" && name != "LISTEN_FDS" && name != "LISTEN_FDNAMES" {
			kept = append(kept, kv)
		}
	}
	return kept
}

// wait reaps the process and says how it ended; an exit before stop is a warning,
// since the connection to it is lost with it.
func (c *serverCommand) wait() {
	err := c.cmd.Wait()
	c.exitErr = err
	close(c.done)
	level := slog.LevelWarn
	if c.stopping.Load() {
		level = slog.LevelDebug
	}
	if err == nil {
		c.log.Log(context.Background(), level, "the server command exited", "command", c.name)
		return
	}
	c.log.Log(context.Background(), level, "the server command failed", "command", c.name, "err", err)
}

// exitGrace is how long a failed connection waits for the command to exit, to say
// why it failed.
const exitGrace = time.Second

// explain adds to err, the failure of the first connection, how the command ended if
// it has or does so within exitGrace: a server that cannot start is the usual cause.
func (c *serverCommand) explain(err error) error {
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		return err
	}
	status := "exit status 0"
	if c.exitErr != nil {
		status = c.exitErr.Error()
	}
	return fmt.Errorf("command=%s exited (%s) instead of serving NBD: %w", c.name, status, err)
}

// stop asks the server to exit with SIGTERM, kills it if it has not within
// commandStopTimeout (or when ctx ends), waits for it and removes its socket.
func (c *serverCommand) stop(ctx context.Context) {
	c.stopping.Store(true)
	defer os.RemoveAll(c.dir)
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(commandStopTimeout)
	defer t.Stop()
	select {
	case <-c.done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	c.log.Warn("the server command did not exit after SIGTERM; killing it", "pid", c.cmd.Process.Pid)
	c.cmd.Process.Kill()
	<-c.done
}
