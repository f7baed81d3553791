package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gonbd/gonbd/protocol/client"
)

func main() {
	var cfg config
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the random byte sequences")
	flag.IntVar(&cfg.random, "random", 3000, "how many random byte sequences to send")
	flag.IntVar(&cfg.cycles, "cycles", 1000, "how many connect/disconnect cycles to make")
	flag.BoolVar(&cfg.verbose, "v", false, "say what each attack does")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: hostile [flags] NBD-URI\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	u, err := client.ParseURI(flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostile: %v\n", err)
		os.Exit(2)
	}
	if u.TLS() || u.Network() == "vsock" {
		fmt.Fprintf(os.Stderr, "hostile: %s URIs are not supported: give an nbd:// or nbd+unix:// URI\n", u.Scheme)
		os.Exit(2)
	}
	cfg.network, cfg.address, cfg.export = u.Network(), u.Address(), u.Export
	if err := run(context.Background(), cfg, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "hostile: %v\n", err)
		os.Exit(1)
	}
}

// config says what to attack and how hard.
type config struct {
	network, address, export string
	seed                     uint64
	random, cycles           int
	verbose                  bool
}

// connDeadline bounds every connection of an attack: a server that neither answers
// nor hangs up within it counts as hung.
const connDeadline = 10 * time.Second

// run writes the reference data, then runs every attack, checking the server after
// each. It returns the first failure.
func run(ctx context.Context, cfg config, log io.Writer) error {
	a := &attacker{config: cfg, log: log}
	if err := a.writeReference(ctx); err != nil {
		return fmt.Errorf("before the attacks: %w", err)
	}
	for _, at := range attacks() {
		start := time.Now()
		if err := at.run(a); err != nil {
			return fmt.Errorf("%s: %w", at.name, err)
		}
		if err := a.check(ctx); err != nil {
			return fmt.Errorf("after %s: %w", at.name, err)
		}
		fmt.Fprintf(log, "hostile: %-24s %5d connections, server fine (%v)\n", at.name, a.conns, time.Since(start).Round(time.Millisecond))
		a.conns = 0
	}
	return nil
}
