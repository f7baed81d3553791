package server_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestWritingPluginsDocMatchesExample keeps docs/writing-plugins.md honest: every Go
// block in it, except those that start with a package clause, must appear verbatim in
// example_plugin_test.go, which runs.
func TestWritingPluginsDocMatchesExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/writing-plugins.md")
	if os.IsNotExist(err) {
		t.Skip("docs/ is not here: the module was fetched on its own")
	}
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_plugin_test.go")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	checked := 0
	for _, b := range blocks {
		code := b[1]
		if strings.HasPrefix(code, "package ") {
			continue
		}
		checked++
		if !strings.Contains(string(example), code) {
			t.Errorf("this block of docs/writing-plugins.md is not in example_plugin_test.go:\n%s", code)
		}
	}
	if checked == 0 {
		t.Error("docs/writing-plugins.md has no Go block to check")
	}
}
