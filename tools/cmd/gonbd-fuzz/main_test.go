package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestFindTargets(t *testing.T) {
	root := t.TempDir()
	const src = `package p

import "testing"

func FuzzDecode(f *testing.F)        {}
func Fuzz(f *testing.F)              {}
func FuzzÉtat(f *testing.F)          {}
func Fuzzy(f *testing.F)             {} // lower case after Fuzz: not a fuzz test
func FuzzWrongArg(t *testing.T)      {}
func FuzzNoArg()                     {}
func TestX(t *testing.T)             {}

type T struct{}

func (T) FuzzMethod(f *testing.F) {}
`
	for name, data := range map[string]string{
		"go.mod":                     "module example.com/m\n",
		"a_test.go":                  src,
		"library.go":                 "package p\n\nimport \"testing\"\n\nfunc FuzzInLibrary(f *testing.F) {}\n",
		"sub/b_test.go":              "package sub\n\nimport \"testing\"\n\nfunc FuzzSub(f *testing.F) {}\n",
		"testdata/c_test.go":         "package c\n\nimport \"testing\"\n\nfunc FuzzTestdata(f *testing.F) {}\n",
		"nested/go.mod":              "module example.com/m/nested\n",
		"nested/d_test.go":           "package d\n\nimport \"testing\"\n\nfunc FuzzNested(f *testing.F) {}\n",
		"_hidden/e_test.go":          "package e\n\nimport \"testing\"\n\nfunc FuzzHidden(f *testing.F) {}\n",
		"testdata/fuzz/FuzzDecode/x": "go test fuzz v1\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	targets, err := findTargets(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range targets {
		rel, _ := filepath.Rel(root, tg.Dir)
		got = append(got, rel+":"+tg.Name)
	}
	want := []string{".:Fuzz", ".:FuzzDecode", ".:FuzzÉtat", "sub:FuzzSub"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findTargets = %v, want %v", got, want)
	}
}

func TestFindTargetsSyntaxError(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "x_test.go"), []byte("package p\nfunc {"), 0o644)
	if _, err := findTargets(root); err == nil {
		t.Error("findTargets of a broken file returned no error")
	}
}
