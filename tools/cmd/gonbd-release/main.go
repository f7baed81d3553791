package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gonbd/gonbd/tools/internal/release"
	"github.com/gonbd/gonbd/tools/internal/workspace"
	"github.com/gonbd/gonbd/tools/releasecheck"
)

const usage = `usage: gonbd-release [-C dir] list
       gonbd-release [-C dir] pack -proxy DIR
       gonbd-release [-C dir] check [-timeout D]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gonbd-release: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gonbd-release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	dir := fs.String("C", ".", "a directory inside the repository")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no subcommand")
	}
	root, err := workspace.FindRoot(*dir)
	if err != nil {
		return err
	}
	cmd, args := fs.Arg(0), fs.Args()[1:]
	sub := flag.NewFlagSet("gonbd-release "+cmd, flag.ContinueOnError)
	sub.SetOutput(stderr)
	switch cmd {
	case "list":
		if err := sub.Parse(args); err != nil {
			return err
		}
		plan, err := loadPlan(ctx, root)
		if err != nil {
			return err
		}
		return list(stdout, plan)
	case "pack":
		proxy := sub.String("proxy", "", "the proxy `directory` to write (required)")
		timeout := sub.Duration("timeout", 15*time.Minute, "give up after this long")
		if err := sub.Parse(args); err != nil {
			return err
		}
		if *proxy == "" {
			return fmt.Errorf("pack: -proxy is required")
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		plan, err := loadPlan(ctx, root)
		if err != nil {
			return err
		}
		abs, err := filepath.Abs(*proxy)
		if err != nil {
			return err
		}
		if err := release.Pack(ctx, root, plan, abs, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "packed %d modules; use GOWORK=off GOPROXY=%s,https://proxy.golang.org GONOSUMDB=%s\n",
			len(plan), release.FileURL(abs), strings.Join(release.Paths(plan), ","))
		return nil
	case "check":
		timeout := sub.Duration("timeout", 20*time.Minute, "give up after this long")
		if err := sub.Parse(args); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		plan, err := loadPlan(ctx, root)
		if err != nil {
			return err
		}
		if err := releasecheck.Run(ctx, releasecheck.Config{Root: root, Plan: plan, Log: stderr}); err != nil {
			return fmt.Errorf("release check failed: %w", err)
		}
		fmt.Fprintln(stdout, "release check passed")
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
}

func loadPlan(ctx context.Context, root string) ([]release.Release, error) {
	ws, err := workspace.Load(ctx, root)
	if err != nil {
		return nil, err
	}
	return release.Plan(ctx, ws)
}

// list prints plan as a table.
func list(w io.Writer, plan []release.Release) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DIR\tMODULE\tLATEST\tNEXT")
	for _, r := range plan {
		latest := r.Latest
		if latest == "" {
			latest = "unreleased"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Module.Dir, r.Module.Path, latest, r.Next)
	}
	return tw.Flush()
}
