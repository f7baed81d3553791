package main

import (
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestHostileAgainstTheEngine runs every attack, with the default counts and seed, at
// gonbd's engine serving an in-memory disk with the default options.
func TestHostileAgainstTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of connections: skipped with -short")
	}
	d := servertest.NewDisk(16 << 20)
	s := servertest.Start(t, d.Layer(), server.Options{})
	var log strings.Builder
	cfg := config{network: "unix", address: s.Socket, seed: 1, random: 3000, cycles: 1000}
	if err := run(context.Background(), cfg, &log); err != nil {
		t.Fatalf("%v\n%s", err, &log)
	}
	for _, a := range attacks() {
		if !strings.Contains(log.String(), a.name) {
			t.Errorf("attack %q did not report:\n%s", a.name, &log)
		}
	}
	t.Log(log.String())
	// The attacks wrote nothing below attackArea but the checks' probes.
	data := d.Bytes()
	for i, b := range data[referenceSize:probeOffset] {
		if b != 0 {
			t.Fatalf("byte %d between the reference data and the probe is %#x", referenceSize+i, b)
		}
	}
}

// TestHostileFailsOnABrokenServer checks that the checks can fail: a server whose
// reference data changed between the attacks is reported.
func TestHostileFailsOnABrokenServer(t *testing.T) {
	d := servertest.NewDisk(16 << 20)
	s := servertest.Start(t, d.Layer(), server.Options{})
	a := &attacker{config: config{network: "unix", address: s.Socket, seed: 1}}
	ctx := context.Background()
	if err := a.writeReference(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.check(ctx); err != nil {
		t.Fatalf("check of an untouched server: %v", err)
	}
	d.SetBytes([]byte{1}, 1000)
	if err := a.check(ctx); err == nil || !strings.Contains(err.Error(), "reference data") {
		t.Errorf("check after the reference data changed: %v", err)
	}
	small := servertest.Start(t, servertest.NewDisk(1<<20).Layer(), server.Options{})
	a = &attacker{config: config{network: "unix", address: small.Socket}}
	if err := a.writeReference(ctx); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Errorf("a 1 MiB export: %v", err)
	}
}
