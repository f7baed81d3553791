package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/tools/internal/workspace"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gonbd-each [-C dir] [-k=false] command [arg...]")
		flag.PrintDefaults()
	}
	dir := flag.String("C", ".", "a directory inside the repository")
	keepGoing := flag.Bool("k", true, "go on to the next module after a failure")
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := each(ctx, *dir, *keepGoing, flag.Args(), os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gonbd-each: %v\n", err)
		os.Exit(1)
	}
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "gonbd-each: %q failed in %d module(s): %s\n",
			strings.Join(flag.Args(), " "), len(failed), strings.Join(failed, ", "))
		os.Exit(1)
	}
}

// each runs args in every module of the workspace around dir and returns
// the directories of the modules it failed in.
func each(ctx context.Context, dir string, keepGoing bool, args []string, stdout, stderr io.Writer) ([]string, error) {
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return nil, err
	}
	ws, err := workspace.Load(ctx, root)
	if err != nil {
		return nil, err
	}
	mods, err := ws.Sorted()
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, m := range mods {
		fmt.Fprintf(stderr, "==> %s: %s\n", m.Dir, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = m.AbsDir
		cmd.Stdout = stdout
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				return failed, fmt.Errorf("module %s: %w", m.Dir, err) // could not run at all
			}
			fmt.Fprintf(stderr, "==> %s: FAILED (%v)\n", m.Dir, err)
			failed = append(failed, m.Dir)
			if !keepGoing || ctx.Err() != nil {
				break
			}
		}
	}
	return failed, ctx.Err()
}
