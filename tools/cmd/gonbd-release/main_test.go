package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/tools/internal/release"
	"github.com/gonbd/gonbd/tools/internal/workspace"
)

func TestList(t *testing.T) {
	plan := []release.Release{
		{Module: &workspace.Module{Dir: "protocol", Path: "example.com/protocol"}, Next: "v0.1.0"},
		{Module: &workspace.Module{Dir: "plugins/memory", Path: "example.com/plugins/memory"}, Latest: "v0.1.0", Next: "v0.1.1"},
	}
	var out bytes.Buffer
	if err := list(&out, plan); err != nil {
		t.Fatal(err)
	}
	want := `DIR             MODULE                      LATEST      NEXT
protocol        example.com/protocol        unreleased  v0.1.0
plugins/memory  example.com/plugins/memory  v0.1.0      v0.1.1
`
	if out.String() != want {
		t.Errorf("list printed\n%s\nwant\n%s", out.String(), want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"pack"}, {"list", "extra-flag-value", "-x"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"-C", t.TempDir()}, args...), &stdout, &stderr)
		if err == nil {
			t.Errorf("gonbd-release %s succeeded", strings.Join(args, " "))
		}
	}
}
