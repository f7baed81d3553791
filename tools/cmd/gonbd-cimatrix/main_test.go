package main

import (
	"strings"
	"testing"
)

const workflow = `jobs:
  module:
    strategy:
      matrix:
        # BEGIN MODULES (generated)
        module:
          - protocol
          - "server"  # quoted, with a comment
        # END MODULES
    steps:
      - run: go test ./...
`

func TestParse(t *testing.T) {
	got, err := parse(workflow)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "protocol server" {
		t.Errorf("parse = %q", got)
	}
	for name, text := range map[string]string{
		"no markers":   "jobs: {}\n",
		"no end":       "# BEGIN MODULES\nmodule:\n  - a\n",
		"two begins":   "# BEGIN MODULES\n# BEGIN MODULES\nmodule:\n# END MODULES\n",
		"no key":       "# BEGIN MODULES\n  - a\n# END MODULES\n",
		"foreign line": "# BEGIN MODULES\nmodule:\n  - a\nos: [linux]\n# END MODULES\n",
	} {
		if _, err := parse(text); err == nil {
			t.Errorf("%s: parse succeeded", name)
		}
	}
}

func TestCompare(t *testing.T) {
	if err := compare([]string{"b", "a"}, []string{"a", "b"}); err != nil {
		t.Errorf("same modules in another order: %v", err)
	}
	err := compare([]string{"a", "old", "a"}, []string{"a", "new"})
	if err == nil {
		t.Fatal("compare of different lists succeeded")
	}
	for _, s := range []string{"no job for new", "old", "a"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestRewrite(t *testing.T) {
	out, err := rewrite(workflow, []string{"protocol", "server", "plugins/memory"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(workflow, "          - \"server\"  # quoted, with a comment\n",
		"          - server\n          - plugins/memory\n", 1)
	if out != want {
		t.Errorf("rewrite =\n%s\nwant\n%s", out, want)
	}
	got, err := parse(out)
	if err != nil || strings.Join(got, " ") != "protocol server plugins/memory" {
		t.Errorf("parse(rewrite) = %q, %v", got, err)
	}
}
