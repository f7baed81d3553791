package data

import (
	"errors"
	"strings"
	"testing"
)

// TestSyntaxErrorPositions checks that syntax errors say where they are: the offset in
// the data, a quote of the text there, and what is wrong.
func TestSyntaxErrorPositions(t *testing.T) {
	tests := []struct {
		data   string
		offset int
		want   string
	}{
		{`1 2 256`, 4, "byte 256 is not in the range 0 to 255"},
		{`1 2 x`, 4, `unexpected 'x'`},
		{`1 2 )`, 4, "unmatched ')'"},
		{`1 ( 2 ( 3 )`, 2, "unmatched '('"},
		{`"abc`, 0, "unterminated string"},
		{`"ab\x4"`, 3, `\x must be followed by exactly two hexadecimal digits`},
		{`"\400"`, 1, `octal escape \400 is more than \377`},
		{`"\u12"`, 1, `\u must be followed by exactly four hexadecimal digits`},
		{`"\ud800"`, 1, "surrogate"},
		{`1 @^6`, 2, "@^6: the alignment must be a power of 2"},
		{`@ 5`, 0, "@ must be followed by an offset"},
		{`@+x`, 0, "@+ must be followed by a number"},
		{`@99999999999999999999`, 1, "number 99999999999999999999 is out of range"},
		{`1 *x`, 2, "* must be followed by a number of times"},
		{`*2`, 0, "*N (repeat) must follow an expression"},
		{`@1 *2`, 3, "*N (repeat) cannot be applied to an offset"},
		{`"abc"[1 :2]`, 7, "expected ':'"},
		{`"abc"[3:1]`, 5, "[3:1]: a slice cannot end before it starts"},
		{`"abc"[1 2`, 7, "expected ':'"}, // nbdkit reads "abc"[1:] 1 2
		{`"abc"[1:`, 8, "expected ']'"},
		{`1 -> x`, 5, `-> must be followed by \NAME`},
		{`le16:1)`, 5, "the number of a word runs up to white space"},
		{`le16:70000`, 5, `number "70000" out of range`},
		{`le12:1`, 0, "expected le16:, be16:, le32:, be32:, le64: or be64:"},
		{`<(echo`, 0, "unterminated <(SCRIPT)"},
		{`< x`, 0, "< must be followed by a file name"},
		{`$`, 0, "$ must be followed by a variable name"},
		{`1 $nope`, 2, "$nope: variable not found"},
		{"# a comment\n 1 -", 15, "expected -> \\NAME"},
	}
	for _, tt := range tests {
		_, err := New(Options{Data: tt.data})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want an *Error", tt.data, err)
			continue
		}
		if len(e.Where) != 1 || e.Where[0].Offset != tt.offset || e.Where[0].Variable != "" {
			t.Errorf("%q: error at %+v, want offset %d of the data", tt.data, e.Where, tt.offset)
		}
		if !strings.Contains(e.Msg, tt.want) {
			t.Errorf("%q: message %q, want it to hold %q", tt.data, e.Msg, tt.want)
		}
		if near := tt.data[tt.offset:]; !strings.HasPrefix(near, strings.TrimSuffix(e.Where[0].Near, "…")) {
			t.Errorf("%q: quotes %q, which is not the text at offset %d", tt.data, e.Where[0].Near, tt.offset)
		}
	}
}

// TestErrorInVariable checks that a mistake inside a variable is located both where the
// variable is used and in its value, down through variables within variables.
func TestErrorInVariable(t *testing.T) {
	_, err := New(Options{
		Data:      `1 2 $outer`,
		Variables: map[string]string{"outer": `( $inner )`, "inner": `7 "oops`},
	})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want an *Error", err)
	}
	want := []Location{
		{Variable: "", Offset: 4, Near: "$outer"},
		{Variable: "outer", Offset: 2, Near: "$inner )"},
		{Variable: "inner", Offset: 2, Near: `"oops`},
	}
	if len(e.Where) != len(want) {
		t.Fatalf("located at %+v, want %+v", e.Where, want)
	}
	for i := range want {
		if e.Where[i] != want[i] {
			t.Errorf("location %d is %+v, want %+v", i, e.Where[i], want[i])
		}
	}
	const text = `data parameter at offset 4 ("$outer"), in $outer at offset 2 ("$inner )"), in $inner at offset 2 ("\"oops"): unterminated string: no closing "`
	if err.Error() != text {
		t.Errorf("message\n %s\nwant\n %s", err, text)
	}
}

// TestVariableLoop checks that variables referring to themselves, directly or not, are
// refused rather than expanded forever.
func TestVariableLoop(t *testing.T) {
	for _, vars := range []map[string]string{
		{"a": "1 $a"},
		{"a": "$b", "b": "( $c )", "c": "$a"},
	} {
		_, err := New(Options{Data: "$a", Variables: vars})
		if !errorIs(err, "refers to itself") {
			t.Errorf("%v: error %v, want a loop refused", vars, err)
		}
	}
	// The same variable twice, side by side or nested in another, is no loop.
	p, err := New(Options{Data: "$a $b $a", Variables: map[string]string{"a": "1", "b": "$a $a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readyContents(t, p); string(got) != "\x01\x01\x01\x01" {
		t.Errorf("contents %x, want 01010101", got)
	}
}

// TestVariablesFromOptions checks where $VARs come from: Variables first, then
// LookupEnv, and nowhere else by default.
func TestVariablesFromOptions(t *testing.T) {
	env := func(name string) (string, bool) {
		if name == "E" || name == "V" {
			return "0xee", true
		}
		return "", false
	}
	p, err := New(Options{Data: "$V $E", Variables: map[string]string{"V": "0x11"}, LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	if got := readyContents(t, p); string(got) != "\x11\xee" {
		t.Errorf("contents %x, want 11ee", got)
	}
	if _, err := New(Options{Data: "$HOME"}); !errorIs(err, "$HOME: variable not found") {
		t.Errorf("without LookupEnv, $HOME gave %v, want it not found", err)
	}
}
