package data

import (
	"errors"
	"testing"
)

// FuzzParse checks that the parser never panics and never loops, whatever the data:
// it returns a syntax tree or an *Error located within the text. It only parses:
// evaluating arbitrary data would run arbitrary scripts. The seeds are the cases
// compared with nbdkit, plus the corpus in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, args := range append(sameAsNbdkit, failLikeNbdkit...) {
		for _, p := range params(args...) {
			if p.Key == "data" {
				f.Add(p.Value)
			}
		}
	}
	vars := map[string]string{"v": "1 2", "w": "$v*2", "loop": "($loop)", "bad": `"unterminated`}
	lookup := func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
	f.Fuzz(func(t *testing.T, data string) {
		body, err := parse(data, lookup)
		if err == nil {
			walk(t, body)
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: error %v is not an *Error", data, err)
		}
		if len(e.Where) == 0 || e.Where[0].Offset < 0 || e.Where[0].Offset > len(data) || e.Msg == "" {
			t.Fatalf("%q: error %#v is not located in the data", data, e)
		}
		_ = e.Error()
	})
}

// walk checks the invariants of a syntax tree that the evaluator relies on.
func walk(t *testing.T, body []node) {
	for _, x := range body {
		switch x := x.(type) {
		case *groupNode:
			walk(t, x.body)
		case *repeatNode:
			if x.n < 0 {
				t.Fatalf("repeat %d times", x.n)
			}
			walk(t, []node{x.x})
		case *sliceNode:
			if x.start < 0 || x.hasEnd && x.end < x.start {
				t.Fatalf("slice %s", x.text)
			}
			walk(t, []node{x.x})
		case *assignNode:
			walk(t, []node{x.x})
		case *offsetNode:
			if x.n < 0 || x.kind == offsetAlign && (x.n == 0 || x.n&(x.n-1) != 0) {
				t.Fatalf("offset %+v", x)
			}
		}
	}
}
