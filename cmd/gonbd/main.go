package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

func main() {
	cmd := &command{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		env:       os.Environ(),
		linked:    linkedSpecs(),
		parentPID: os.Getppid(),
	}
	os.Exit(cmd.run(context.Background(), os.Args[1:]))
}

// command is one run of gonbd: its standard files, its environment, and the plugins
// and filters it links. Tests make their own.
type command struct {
	stdin          *os.File
	stdout, stderr io.Writer
	env            []string
	linked         linked
	// parentPID is the parent process when gonbd started, for --exit-with-parent.
	parentPID int
}

// usageError is a command line gonbd cannot make sense of.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

var errNoPlugin = errors.New("no plugin given on the command line")

// run runs the command line args and returns gonbd's exit status: 0 after a clean
// shutdown, the command's status with --run, 1 on any error, which it reports on one
// line of stderr.
func (cmd *command) run(ctx context.Context, args []string) int {
	status, err := cmd.execute(ctx, args)
	if err != nil {
		fmt.Fprintf(cmd.stderr, "gonbd: %v\n", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintf(cmd.stderr, "Try 'gonbd --help' for more information.\n")
		}
		if status == 0 {
			status = 1
		}
	}
	return status
}

func (cmd *command) execute(ctx context.Context, args []string) (int, error) {
	c, operands, err := parseCommandLine(args)
	if err != nil {
		return 1, usageError{err}
	}
	switch {
	case c.completion != "":
		return 0, writeCompletion(cmd.stdout, c.completion, cmd.linked)
	case c.dumpConfig:
		writeConfig(cmd.stdout, cmd.linked)
		return 0, nil
	case c.help && len(operands) == 0:
		writeHelp(cmd.stdout, cmd.linked)
		return 0, nil
	case c.version && len(operands) == 0:
		writeVersion(cmd.stdout, nil, nil)
		return 0, nil
	case len(operands) == 0:
		return 1, usageError{errNoPlugin}
	}

	l := cmd.linked
	l.stdioInUse = c.single
	plugin, params, err := pluginArgs(l, operands)
	if err != nil {
		return 1, err
	}
	filters := make([]server.FilterSpec, len(c.filters))
	for i, name := range c.filters {
		if filters[i], err = cmd.linked.filter(name); err != nil {
			return 1, err
		}
	}
	switch {
	case c.help:
		writeLayerHelp(cmd.stdout, plugin, filters)
		return 0, nil
	case c.version:
		writeVersion(cmd.stdout, &plugin, filters)
		return 0, nil
	case c.dumpPlugin:
		cmd.dumpPlugin(plugin, params)
		return 0, nil
	}

	activated := server.Activated()
	id, err := c.check(activated)
	if err != nil {
		return 1, err
	}
	ready, err := readyPipe(cmd.env)
	if err != nil {
		return 1, err
	}
	// Before going to the background, so that errors reach the terminal; a background
	// child loads them again, without repeating the warnings its parent printed.
	warn := cmd.stderr
	if ready != nil {
		warn = io.Discard
	}
	if err := c.setupTLS(os.Geteuid(), cmd.env, warn); err != nil {
		return 1, err
	}
	foreground := c.foreground || c.single || c.runSet || c.exitWithParent || activated || !backgroundSupported
	if !foreground && ready == nil {
		return goBackground(args, cmd.env, cmd.stdout, cmd.stderr)
	}
	s := &serving{cmd: cmd, c: c, id: id, ready: ready, activated: activated}
	return s.serve(ctx, plugin, filters, params)
}

// dumpPlugin writes --dump-plugin, making the plugin from the parameters given if it
// can be made (nbdkit needs none: what cannot be known without them is left out).
func (cmd *command) dumpPlugin(spec server.PluginSpec, params []server.Param) {
	p, err := spec.New(server.NewParams(params, nil))
	if err != nil {
		p = nil
	}
	writePluginDump(cmd.stdout, spec, p)
	if p != nil {
		server.PluginLayer(spec.Name, p).Cleanup(context.Background())
	}
}

// check refuses combinations of options that cannot work and options this build
// does not support, before anything is started, and looks up -u and -g.
func (c *config) check(activated bool) (identity, error) {
	switch {
	case c.selinuxLabel != "":
		return identity{}, errors.New("--selinux-label: SELinux socket labels are not supported")
	case c.single && (c.runSet || c.unixSocket != "" || c.port != "" || c.ipAddr != "" || c.vsock):
		return identity{}, usageError{errors.New("-s serves standard input and cannot be used with --run, -U, -p, -i or --vsock")}
	case c.unixSocket != "" && (c.port != "" || c.ipAddr != "" || c.vsock):
		return identity{}, usageError{errors.New("-U cannot be used with -p, -i or --vsock")}
	case c.vsock && c.ipAddr != "":
		return identity{}, usageError{errors.New("--vsock cannot be used with -i")}
	case c.exitWithParent && !exitWithParentSupported:
		return identity{}, errors.New("--exit-with-parent is supported on Linux only")
	}
	if activated {
		if err := activationConflicts(c); err != nil {
			return identity{}, err
		}
	}
	// nbdkit's captive mode listens on a private socket unless told where.
	if c.runSet && c.unixSocket == "" && c.port == "" && c.ipAddr == "" && !c.vsock && !activated {
		c.unixSocket = "-"
	}
	c.opts.ExportName = c.exportName
	return lookupIdentity(c.user, c.group)
}

// serving is the part of a run that serves: in the foreground, in a background child,
// captive with --run, or on stdin with -s.
type serving struct {
	cmd       *command
	c         *config
	id        identity
	ready     *os.File // the pipe to the parent when in the background
	activated bool
}

func (s *serving) serve(ctx context.Context, plugin server.PluginSpec, filters []server.FilterSpec, params []server.Param) (int, error) {
	c := s.c
	if c.exitWithParent {
		if err := exitWithParent(s.cmd.parentPID); err != nil {
			return 1, fmt.Errorf("--exit-with-parent: %w", err)
		}
	}
	if c.swap {
		if err := lockMemory(); err != nil {
			return 1, err
		}
	}
	// Stay up when the terminal goes away, and get EPIPE rather than die when a
	// client does (as nbdkit ignores SIGPIPE). The signals are caught, not ignored:
	// the programs gonbd runs (--run, the sh plugin's scripts) would inherit an
	// ignored disposition across exec, and a script in a pipeline must die of SIGPIPE.
	// SIGHUP reloads the TLS certificates, as for nbdkit.
	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Stop(hangups)

	logger, closeLog, err := newLogger(s.logDestination(), c.verbose, s.cmd.stderr)
	if err != nil {
		return 1, err
	}
	defer closeLog()
	signalsDone := make(chan struct{})
	defer close(signalsDone)
	go func() {
		for {
			select {
			case sig := <-hangups:
				if sig == syscall.SIGHUP {
					c.reloadTLS(logger)
				}
			case <-signalsDone:
				return
			}
		}
	}()
	c.opts.Logger = logger
	logger.Debug("gonbd", "version", gonbdVersion(), "plugin", plugin.Name, "filters", c.filters)
	logDebugFlags(logger, c.debugFlags, plugin, filters)

	top, err := server.NewStack(plugin, filters, params, logger)
	if err != nil {
		return 1, err
	}
	srv, err := server.New(ctx, top, c.opts)
	if err != nil {
		top.Cleanup(ctx)
		return 1, err
	}
	defer srv.Close(context.WithoutCancel(ctx))

	if c.single {
		return s.serveStdio(ctx, srv)
	}
	// Catch the stop signals before anyone can learn that the server is up (the
	// pidfile, the printed URI, the waiting parent): a SIGTERM sent at once must still
	// shut down cleanly and remove the socket.
	stops := make(chan os.Signal, 1)
	signal.Notify(stops, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(stops)
	ep, err := listen(ctx, c, s.activated)
	if err != nil {
		return 1, err
	}
	ep.uri = tlsURI(ep.uri, c.opts.TLS)
	if err := s.started(ep.uri); err != nil {
		ep.close()
		return 1, err
	}

	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // a layer's server.Shutdown (exitlast, exitwhen) ends the run as SIGTERM does
		select {
		case <-srv.ShutdownRequested():
			stop()
		case <-serveCtx.Done():
		}
	}()
	var wg sync.WaitGroup
	serveErrs := make(chan error, len(ep.listeners))
	for _, ln := range ep.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(serveCtx, ln); err != nil {
				serveErrs <- err
				stop()
			}
		}()
	}

	status, runErr := 0, error(nil)
	if c.runSet {
		env := captiveEnv(withoutEnv(s.cmd.env, readyEnv), ep, c)
		status, runErr = runCaptive(serveCtx, c.run, env, s.cmd.stdin, s.cmd.stdout, s.cmd.stderr)
	} else {
		waitForShutdown(serveCtx, stops, logger)
	}
	stop()
	wg.Wait()
	select {
	case err := <-serveErrs:
		if runErr == nil {
			return 1, err
		}
	default:
	}
	return status, runErr
}

// serveStdio serves the one connection of -s on standard input and output.
func (s *serving) serveStdio(ctx context.Context, srv *server.Server) (int, error) {
	out, ok := s.cmd.stdout.(*os.File)
	if !ok || s.cmd.stdin == nil {
		return 1, errors.New("-s needs standard input and output to be files")
	}
	conn, err := server.StdioConn(s.cmd.stdin, out)
	if err != nil {
		return 1, fmt.Errorf("-s: %w", err)
	}
	if err := s.started(""); err != nil {
		conn.Close()
		return 1, err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer stop()
	if err := srv.ServeConn(ctx, conn); err != nil {
		s.c.opts.Logger.Debug("connection ended", "err", err)
	}
	return 0, nil
}

// started does what follows listening: drop privileges, write the pidfile, and
// print the URI or tell the waiting parent.
func (s *serving) started(uri string) error {
	c := s.c
	if err := s.id.become(); err != nil {
		return err
	}
	if c.pidFile != "" {
		if err := os.WriteFile(c.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("-P: %w", err)
		}
	}
	text := ""
	if c.printURI && uri != "" {
		text = uri + "\n"
	}
	if s.ready == nil {
		if text == "" {
			return nil // and with -s, stdout is the connection
		}
		_, err := io.WriteString(s.cmd.stdout, text)
		return err
	}
	if err := signalReady(s.ready, text); err != nil {
		return fmt.Errorf("telling the parent that the server is ready: %w", err)
	}
	if !c.verbose {
		// Nothing more goes to the terminal the parent left, as with nbdkit.
		detachStderr()
	}
	return nil
}

// logDestination is --log's, or by default stderr, except in the background, where
// nbdkit logs to syslog (if this system has one).
func (s *serving) logDestination() string {
	if s.c.log != "" || s.ready == nil {
		return s.c.log
	}
	if _, closeLog, err := syslogEmitter(); err == nil {
		closeLog()
		return "syslog"
	}
	return "stderr"
}

// waitForShutdown returns when ctx is done or gonbd is asked to stop: a signal
// arrives on stops (SIGINT, SIGTERM, SIGQUIT, as for nbdkit).
func waitForShutdown(ctx context.Context, stops <-chan os.Signal, logger interface{ Debug(string, ...any) }) {
	select {
	case sig := <-stops:
		logger.Debug("shutting down", "signal", sig)
	case <-ctx.Done():
	}
}

// logDebugFlags reports the -D flags: no linked plugin or filter has debug flags
// yet, so a flag naming one of them is warned about, as nbdkit warns about a flag a
// plugin lacks, and the others (nbdkit.*, layers not in use) are ignored, as in nbdkit.
func logDebugFlags(logger interface{ Warn(string, ...any) }, flags []debugFlag, plugin server.PluginSpec, filters []server.FilterSpec) {
	inUse := map[string]bool{plugin.Name: true}
	for _, f := range filters {
		inUse[f.Name] = true
	}
	for _, f := range flags {
		if inUse[f.layer] {
			logger.Warn(fmt.Sprintf("-D %s.%s: %s has no debug flag called %s", f.layer, f.flag, f.layer, f.flag))
		}
	}
}
